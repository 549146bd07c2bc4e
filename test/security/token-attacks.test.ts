// Published JWT attacks (alg none, key confusion, kid games, expiry, tampering) and tenant-claim abuse must all fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { exportSPKI } from 'jose';
import { createJwtAuthenticator } from '../../src/authn/jwt.js';
import type { Identity } from '../../src/authn/identity.js';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createTenantResolver } from '../../src/tenancy/policy.js';
import { captureLogger, caught, tempDir, writeFile } from '../authn/helpers.js';
import { asymKey, bearer, hmacKey, jwks, jwtConfig, sign } from '../authn/jwt-helpers.js';

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

async function setup(t: { after(fn: () => void): void }) {
  const dir = tempDir(t);
  const rsa = await asymKey('RS256', 'rsa');
  const hmac = hmacKey('hmac');
  const a = createJwtAuthenticator(
    jwtConfig({ jwks: writeFile(dir, 'jwks.json', JSON.stringify(jwks(rsa, hmac))), clockSkew: 0 }),
    { logger: captureLogger().logger },
  );
  t.after(() => a.close?.());
  return { a, rsa, hmac };
}

/** The refusal must be a 401 GatewayError with the code and an RFC 6750 challenge. */
async function refused(a: Awaited<ReturnType<typeof setup>>['a'], token: string, code: string): Promise<void> {
  const e = await caught(() => a.authenticate(bearer(token)));
  assert.ok(e instanceof GatewayError, `not a GatewayError: ${String(e)}`);
  assert.equal(e.code, code);
  assert.equal(e.status, 401);
  assert.match(e.headers['www-authenticate'] ?? '', /^Bearer error="invalid_token", error_description="[^"]+"$/);
}

/** Sign an HS256 token by hand with any secret bytes (what an attacker would do). */
function hs256(header: object, payload: object, secret: Buffer | string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

test('alg none is refused, in every spelling', async (t) => {
  const { a } = await setup(t);
  for (const alg of ['none', 'None', 'NONE'])
    await refused(a, `${b64({ alg, kid: 'rsa' })}.${b64({ sub: 'x' })}.`, 'PG_AUTHN_TOKEN_INVALID');
});

test('a token signed with the wrong key (same kid) is refused', async (t) => {
  const { a } = await setup(t);
  const other = await asymKey('RS256', 'rsa');
  await refused(a, await sign(other, { sub: 'x' }), 'PG_AUTHN_TOKEN_INVALID');
});

test('an unknown kid is refused', async (t) => {
  const { a, rsa } = await setup(t);
  await refused(a, await sign(rsa, { sub: 'x' }, { header: { kid: 'nope' } }), 'PG_AUTHN_TOKEN_INVALID');
});

test('a token without kid is refused even when only one key could match', async (t) => {
  const { a, rsa } = await setup(t);
  await refused(a, await sign(rsa, { sub: 'x' }, { header: { kid: undefined } }), 'PG_AUTHN_TOKEN_INVALID');
});

test('an expired token is refused as expired', async (t) => {
  const { a, rsa } = await setup(t);
  await refused(a, await sign(rsa, { sub: 'x' }, { exp: -10 }), 'PG_AUTHN_TOKEN_EXPIRED');
});

test('a not-yet-valid token (nbf in the future) is refused', async (t) => {
  const { a, rsa } = await setup(t);
  await refused(a, await sign(rsa, { sub: 'x', nbf: Math.floor(Date.now() / 1000) + 600 }), 'PG_AUTHN_TOKEN_INVALID');
});

test('a tampered payload is refused', async (t) => {
  const { a, rsa } = await setup(t);
  const [h, , s] = (await sign(rsa, { sub: 'x', namespaces: ['mine'] })).split('.');
  await refused(a, `${h}.${b64({ sub: 'x', namespaces: ['kube-system'] })}.${s}`, 'PG_AUTHN_TOKEN_INVALID');
});

test('HS256 signed with the RSA public key (PEM or JWK bytes) is refused', async (t) => {
  const { a, rsa } = await setup(t);
  const pem = await exportSPKI(rsa.publicKey);
  for (const secret of [pem, `${pem}\n`, JSON.stringify(rsa.jwk), Buffer.from(rsa.jwk.n ?? '', 'base64url')]) {
    await refused(
      a,
      hs256({ alg: 'HS256', kid: 'rsa', typ: 'JWT' }, { sub: 'admin' }, secret),
      'PG_AUTHN_TOKEN_INVALID',
    );
  }
});

test('garbage and oversized tokens are malformed (401, never 500)', async (t) => {
  const { a } = await setup(t);
  for (const tok of [
    'abc',
    'a.b',
    '%%%.%%%.%%%',
    `${b64({ alg: 'RS256', kid: 'rsa' })}.bm90IGpzb24.c2ln`,
    'WzFd.e30.c2ln',
    `${'a'.repeat(17_000)}.b.c`,
  ]) {
    await refused(a, tok, 'PG_AUTHN_MALFORMED');
  }
});

test('a valid token without tenant claims authenticates but gets no tenant', async (t) => {
  const { a, rsa } = await setup(t);
  const id = (await a.authenticate(bearer(await sign(rsa, { sub: 'nobody' })))) as Identity;
  assert.equal(id.subject, 'nobody');
  const tenants = createTenantResolver(configSchema.parse({ routes: [{ upstream: { url: 'http://p' } }] }).tenants, {
    logger: captureLogger().logger,
  });
  assert.throws(() => tenants.resolve(id), { code: 'PG_TENANT_NONE', status: 403 });
});

test('a namespaces claim of the wrong type is refused, not ignored', async (t) => {
  const { a, hmac } = await setup(t);
  const tenants = createTenantResolver(configSchema.parse({ routes: [{ upstream: { url: 'http://p' } }] }).tenants, {
    logger: captureLogger().logger,
  });
  for (const namespaces of ['kube-system', [1], [''], { a: 1 }, [['x']]]) {
    const id = (await a.authenticate(
      bearer(await sign(hmac, { sub: 'x', namespaces, labels: { team: 'red' } })),
    )) as Identity;
    assert.throws(
      () => tenants.resolve(id),
      (e: unknown) => e instanceof GatewayError && e.code === 'PG_TENANT_NONE' && /namespaces/.test(e.message),
      JSON.stringify(namespaces),
    );
  }
});
