// Password hashes: classify a stored password, verify a candidate against it, and hash new ones.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { createRequire } from 'node:module';
import type * as Argon2Module from '@node-rs/argon2';

// @node-rs/argon2 (a native addon, ~12 MB of RSS) is loaded only when an argon2id hash is met or made.
type Argon2 = typeof Argon2Module;
let argon2Module: Argon2 | undefined;
const argon2 = (): Argon2 => (argon2Module ??= createRequire(import.meta.url)('@node-rs/argon2') as Argon2);

/** A stored password, classified once at load time so the request path never re-parses it. */
export type StoredPassword =
  | { kind: 'bcrypt'; hash: string; cost: number }
  | { kind: 'argon2id'; hash: string; memoryCost: number; timeCost: number; parallelism: number }
  | { kind: 'plaintext'; mac: Buffer };

// bcrypt: $2a$/$2b$/$2y$ are the same algorithm (the letters mark historical bug fixes in other C code).
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const ARGON2ID = /^\$argon2id\$/;

/**
 * Prefixes of hash formats we recognise but refuse. Treating them as plaintext would be worse than
 * refusing: the hash string itself would become the password.
 */
const REFUSED: readonly [RegExp, string][] = [
  [/^\{SHA\}/i, 'SHA-1 ({SHA}) is unsalted and fast; use bcrypt or argon2id'],
  [/^\$apr1\$/, 'Apache MD5 ($apr1$) is fast and broken; use bcrypt or argon2id'],
  [/^\$1\$/, 'MD5-crypt ($1$) is fast and broken; use bcrypt or argon2id'],
  [/^\$[56]\$/, 'SHA-crypt ($5$/$6$) is not supported; use bcrypt or argon2id'],
  [/^\$argon2(?:i|d)\$/, 'only the argon2id variant is supported'],
  [/^\$2[a-z]?\$/, 'malformed bcrypt hash (expected $2a$/$2b$/$2y$, a two-digit cost and 53 characters)'],
  [/^\$(?:scrypt|pbkdf2[-a-z0-9]*|7|y|gy)\$/, 'this hash format is not supported; use bcrypt or argon2id'],
];

/** One key per process: HMACs made with it never leave memory and never outlive a restart. */
const PROCESS_KEY = randomBytes(32);

/** Constant-length digest, so plaintext compares take the same time whatever the lengths. */
export function keyedDigest(data: string | Buffer): Buffer {
  return createHmac('sha256', PROCESS_KEY).update(data).digest();
}

export type Classified = { ok: true; stored: StoredPassword } | { ok: false; problem: string };

/**
 * Classify a stored password. `plaintextAllowed` false turns plaintext into a problem.
 * `hashesOnly` (htpasswd) refuses everything but bcrypt/argon2id: in an htpasswd file an unknown
 * line is far more likely a legacy hash than a deliberate plaintext password.
 */
export function classifyPassword(text: string, opts: { plaintextAllowed: boolean; hashesOnly?: boolean }): Classified {
  const b = BCRYPT.exec(text);
  if (b) return { ok: true, stored: { kind: 'bcrypt', hash: text, cost: Number(b[1]) } };
  if (ARGON2ID.test(text)) {
    try {
      const o = argon2().parseOptions(text);
      return {
        ok: true,
        stored: {
          kind: 'argon2id',
          hash: text,
          memoryCost: o.memoryCost,
          timeCost: o.timeCost,
          parallelism: o.parallelism,
        },
      };
    } catch (e) {
      return { ok: false, problem: `malformed argon2id hash (${(e as Error).message})` };
    }
  }
  for (const [re, why] of REFUSED) if (re.test(text)) return { ok: false, problem: why };
  if (opts.hashesOnly)
    return { ok: false, problem: 'not a bcrypt ($2a$/$2b$/$2y$) or argon2id hash (crypt, MD5 and SHA are refused)' };
  if (!opts.plaintextAllowed)
    return {
      ok: false,
      problem: 'plaintext password refused (auth.basic.allowPlaintext is false); hash it with `promgate hash-password`',
    };
  if (text === '') return { ok: false, problem: 'empty password' };
  return { ok: true, stored: { kind: 'plaintext', mac: keyedDigest(text) } };
}

/** Verify a candidate. Never throws for a wrong password; a broken stored hash yields false. */
export async function verifyStored(password: string, stored: StoredPassword): Promise<boolean> {
  switch (stored.kind) {
    case 'plaintext':
      // Both sides are 32-byte HMACs, so timingSafeEqual sees equal lengths and leaks nothing.
      return timingSafeEqual(keyedDigest(password), stored.mac);
    case 'bcrypt':
      // bcrypt only reads 72 bytes; a longer candidate could match a truncated one, so refuse it.
      if (Buffer.byteLength(password) > 72) return false;
      return bcrypt.compare(password, stored.hash).catch(() => false);
    case 'argon2id':
      return argon2()
        .verify(stored.hash, password)
        .catch(() => false);
  }
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A stored password that no candidate matches but that costs as much to check as `like`.
 * Unknown users are checked against it, so response time does not reveal which usernames exist.
 */
export function dummyLike(like: StoredPassword | undefined): StoredPassword {
  if (like?.kind === 'argon2id') {
    const b64 = (n: number): string => randomBytes(n).toString('base64').replace(/=+$/, '');
    const hash = `$argon2id$v=19$m=${like.memoryCost},t=${like.timeCost},p=${like.parallelism}$${b64(16)}$${b64(32)}`;
    return { ...like, hash };
  }
  if (like === undefined || like.kind === 'plaintext') return { kind: 'plaintext', mac: keyedDigest(randomBytes(32)) };
  const cost = like.cost;
  const tail = Array.from(randomBytes(53), (x) => BCRYPT_ALPHABET[x & 63]).join('');
  return { kind: 'bcrypt', hash: `$2b$${String(cost).padStart(2, '0')}$${tail}`, cost };
}

export interface HashOptions {
  algorithm: 'bcrypt' | 'argon2id';
  /** bcrypt: log2 rounds (default 12). argon2id: time cost / passes (default 2, with 19 MiB as OWASP suggests). */
  cost?: number;
}

/** Hash a new password (used by `promgate hash-password`). */
export async function hashPassword(password: string, opts: HashOptions = { algorithm: 'bcrypt' }): Promise<string> {
  if (password === '') throw new Error('refusing to hash an empty password');
  if (opts.algorithm === 'bcrypt') {
    if (Buffer.byteLength(password) > 72)
      throw new Error('bcrypt uses only the first 72 bytes of a password; use argon2id for longer ones');
    const cost = opts.cost ?? 12;
    if (!Number.isInteger(cost) || cost < 4 || cost > 31)
      throw new Error('bcrypt cost must be an integer from 4 to 31');
    return bcrypt.hash(password, cost);
  }
  const timeCost = opts.cost ?? 2;
  if (!Number.isInteger(timeCost) || timeCost < 1)
    throw new Error('argon2id cost (time cost) must be a positive integer');
  // The package's default variant is argon2id; its Algorithm enum is a const enum we cannot import at run time.
  return argon2().hash(password, { timeCost, memoryCost: 19456, parallelism: 1 });
}

/** Verify a password against a stored hash or plaintext string. Unsupported formats yield false. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const c = classifyPassword(stored, { plaintextAllowed: true });
  return c.ok ? verifyStored(password, c.stored) : false;
}
