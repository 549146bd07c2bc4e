// JWT test helpers: key pairs with kids, JWKS documents and signed tokens, all made at test time.
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { authSchema, type JwtAuthConfig } from '../../src/config/schema-auth.js';
import { rsaKeyPair } from '../helpers/rsa-keys.js';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey | Uint8Array;
  jwk: JWK;
}

export async function asymKey(
  alg: 'RS256' | 'ES256' | 'EdDSA',
  kid: string,
): Promise<TestKey & { publicKey: CryptoKey }> {
  // RSA keys are costly to make: distinct ones come from the kept set (helpers/rsa-keys.ts).
  const { publicKey, privateKey } =
    alg === 'RS256' ? await rsaKeyPair(alg) : await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export function hmacKey(kid: string, secret: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): TestKey {
  return {
    kid,
    alg: 'HS256',
    privateKey: secret,
    jwk: { kty: 'oct', kid, k: Buffer.from(secret).toString('base64url') },
  };
}

export const jwks = (...keys: TestKey[]): { keys: JWK[] } => ({ keys: keys.map((k) => k.jwk) });

/** Sign claims; `header` overrides alg/kid (undefined kid removes it), `exp` in seconds from now. */
export async function sign(
  key: TestKey,
  claims: JWTPayload,
  opts: { exp?: number | null; header?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, ...opts.header };
  if ('kid' in (opts.header ?? {}) && opts.header?.kid === undefined) delete header.kid;
  const jwt = new SignJWT(claims).setProtectedHeader(header as { alg: string }).setIssuedAt(now);
  if (opts.exp !== null) jwt.setExpirationTime(now + (opts.exp ?? 300));
  return jwt.sign(key.privateKey);
}

/** A full JwtAuthConfig with the schema's defaults. */
export function jwtConfig(input: Record<string, unknown>): JwtAuthConfig {
  const parsed = authSchema.parse({ jwt: input }).jwt;
  if (!parsed) throw new Error('no jwt config');
  return parsed;
}

export const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, path: '/api/v1/query' });
