// AES-256-GCM sealing of cookie and Redis values: confidentiality, integrity, an absolute expiry, and key rotation.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey } from './secret.js';

const VERSION = 1;
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER = 1 + IV_LEN;

export interface Sealer {
  /** Seals `data` so that it only opens with the same `aad` (the cookie name) until `expiresAt` (ms). */
  seal(data: Buffer | string, aad: string, expiresAt: number): string;
  /** The data, or null when the value was altered, truncated, sealed for another name, expired or sealed with an unknown key. */
  open(sealed: string, aad: string, now?: number): Buffer | null;
}

export function sealWithKey(key: Buffer, data: Buffer | string, aad: string, expiresAt: number): string {
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const exp = Buffer.alloc(8);
  exp.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expiresAt))));
  const body = Buffer.concat([
    cipher.update(exp),
    cipher.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data),
    cipher.final(),
  ]);
  return Buffer.concat([Buffer.from([VERSION]), iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens with one key; null on any failure (never throws on attacker input). */
export function openWithKey(key: Buffer, raw: Buffer, aad: string, now: number): Buffer | null {
  if (raw.length < HEADER + 8 + TAG_LEN || raw[0] !== VERSION) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(1, HEADER));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_LEN));
    const plain = Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - TAG_LEN)), decipher.final()]);
    const exp = Number(plain.readBigUInt64BE(0));
    if (exp <= now) return null;
    return plain.subarray(8);
  } catch {
    return null;
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

export function decodeSealed(sealed: string): Buffer | null {
  if (sealed.length === 0 || sealed.length > 64 * 1024 || !B64URL.test(sealed)) return null;
  return Buffer.from(sealed, 'base64url');
}

/**
 * A sealer for one purpose over a list of secrets: seals with the first, opens with any, so secrets can be
 * rotated by prepending a new one and dropping the old one after cookie-expire.
 */
export function createSealer(secrets: readonly Buffer[], purpose: string): Sealer {
  if (secrets.length === 0) throw new Error('at least one cookie secret is required');
  const keys = secrets.map((s) => deriveKey(s, purpose));
  return {
    seal: (data, aad, expiresAt) => sealWithKey(keys[0]!, data, aad, expiresAt),
    open(sealed, aad, now = Date.now()) {
      const raw = decodeSealed(sealed);
      if (!raw) return null;
      for (const key of keys) {
        const out = openWithKey(key, raw, aad, now);
        if (out) return out;
      }
      return null;
    },
  };
}
