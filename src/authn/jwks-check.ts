// Validates a JSON Web Key Set without loading jose, so the config check (and a process without JWT) never pays for it.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JWK } from 'jose';
import { FileConfigError } from './reloadable.js';

/** HMAC keys by kid. jose's JWKS helpers refuse `oct` keys, so these are looked up here. */
export type OctKeys = ReadonlyMap<string, readonly { alg?: string; key: Uint8Array }[]>;
export interface CheckedJwks {
  asymKeys: JWK[];
  oct: OctKeys;
}

const ASYM = new Set(['RSA', 'EC', 'OKP']);

/** Which key type an algorithm needs. HS* only with oct keys, everything else only with asymmetric ones. */
export function isHmacAlg(alg: string): boolean {
  return alg.startsWith('HS');
}

/** Validate a JWKS document up front, so that a bad key is a load error rather than a per-request surprise. */
export function checkJwks(json: unknown, where: string, warn: (msg: string) => void): CheckedJwks {
  const problems: string[] = [];
  const keys =
    typeof json === 'object' && json !== null && Array.isArray((json as { keys?: unknown }).keys)
      ? (json as { keys: unknown[] }).keys
      : undefined;
  if (!keys) throw new FileConfigError([`${where}: expected a JSON Web Key Set ({"keys": [...]})`]);
  const oct = new Map<string, { alg?: string; key: Uint8Array }[]>();
  const asymKeys: JWK[] = [];
  keys.forEach((k, i) => {
    const at = `${where}: keys[${i}]`;
    if (typeof k !== 'object' || k === null) return void problems.push(`${at}: not an object`);
    const jwk = k as JWK;
    if (typeof jwk.kid !== 'string' || jwk.kid === '')
      return warn(`${at} has no kid; promgate requires a kid, so it is never used`);
    if (jwk.use !== undefined && jwk.use !== 'sig') return;
    if (jwk.kty === 'oct') {
      if (typeof jwk.k !== 'string' || jwk.k === '')
        return void problems.push(`${at} (kid ${jwk.kid}): oct key without "k"`);
      const key = new Uint8Array(Buffer.from(jwk.k, 'base64url'));
      if (key.length < 32) warn(`${at} (kid ${jwk.kid}): HMAC secret is only ${key.length} bytes; use at least 32`);
      const list = oct.get(jwk.kid) ?? [];
      list.push(typeof jwk.alg === 'string' ? { alg: jwk.alg, key } : { key });
      oct.set(jwk.kid, list);
    } else if (typeof jwk.kty === 'string' && ASYM.has(jwk.kty)) {
      // A private key in a verification set is a leak waiting to happen; jose would also refuse it late.
      if ('d' in jwk) return void problems.push(`${at} (kid ${jwk.kid}): private key; publish only the public part`);
      try {
        createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } catch (e) {
        return void problems.push(`${at} (kid ${jwk.kid}): invalid ${jwk.kty} key: ${(e as Error).message}`);
      }
      asymKeys.push(jwk);
    } else warn(`${at} (kid ${jwk.kid}): unsupported kty ${String(jwk.kty)}; ignored`);
  });
  if (problems.length > 0) throw new FileConfigError(problems);
  return { asymKeys, oct };
}
