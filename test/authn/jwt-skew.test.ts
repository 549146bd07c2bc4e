// JWT time checks and algorithm allow-list: auth.jwt.clockSkew on exp and nbf (default 30s), and auth.jwt.algorithms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJwtAuthenticator } from '../../src/authn/jwt.js';
import type { Authenticator } from '../../src/authn/identity.js';
import { GatewayError } from '../../src/errors.js';
import { captureLogger, caught, tempDir, writeFile } from './helpers.js';
import { manualClock, type ManualClock } from '../helpers/clock.js';
import { asymKey, bearer, hmacKey, jwks, jwtConfig, sign, type TestKey } from './jwt-helpers.js';

const now = () => Math.floor(Date.now() / 1000);

/** An authenticator over a local JWKS file holding `keys`, with `extra` config on top of the defaults. */
function authenticator(
  t: { after(fn: () => void): void },
  keys: TestKey[],
  extra: Record<string, unknown> = {},
  clock?: ManualClock,
): Authenticator {
  const file = writeFile(tempDir(t), 'jwks.json', JSON.stringify(jwks(...keys)));
  const a = createJwtAuthenticator(jwtConfig({ jwks: file, ...extra }), {
    logger: captureLogger().logger,
    now: clock?.now,
  });
  t.after(() => a.close?.());
  assert.equal(a.ready?.(), true, 'a JWKS file is loaded at once');
  return a;
}

async function accepted(a: Authenticator, token: string): Promise<string | undefined> {
  return (await a.authenticate(bearer(token)))?.subject;
}

async function refused(
  a: Authenticator,
  token: string,
  code: string,
  description: string,
  what: string,
): Promise<void> {
  const e = await caught(async () => a.authenticate(bearer(token)));
  assert.ok(e instanceof GatewayError, `${what}: expected a GatewayError, got ${String(e)}`);
  assert.equal(e.code, code, what);
  assert.equal(e.status, 401, what);
  assert.equal(e.headers['www-authenticate'], `Bearer error="invalid_token", error_description="${description}"`, what);
}

test('the default clockSkew is 30 s', () => {
  assert.equal(jwtConfig({ jwks: '/dev/null' }).clockSkew, 30_000);
  assert.equal(jwtConfig({ jwks: '/dev/null', clockSkew: '0s' }).clockSkew, 0);
});

test('exp: a token expired 10 s ago passes within the default skew and fails with clockSkew 0', async (t) => {
  const rsa = await asymKey('RS256', 'rsa-exp');
  const lenient = authenticator(t, [rsa]);
  const strict = authenticator(t, [rsa], { clockSkew: '0s' });
  const expired10 = await sign(rsa, { sub: 'late-10' }, { exp: -10 });
  assert.equal(await accepted(lenient, expired10), 'late-10');
  await refused(strict, expired10, 'PG_AUTHN_TOKEN_EXPIRED', 'token expired', 'clockSkew 0, exp 10 s ago');
  // The skew is bounded and measured in the configured unit: 60 s ago is past 30 s, and 5 s of skew is not 10.
  await refused(
    lenient,
    await sign(rsa, { sub: 'late-60' }, { exp: -60 }),
    'PG_AUTHN_TOKEN_EXPIRED',
    'token expired',
    'default skew, exp 60 s ago',
  );
  const five = authenticator(t, [rsa], { clockSkew: '5s' });
  await refused(
    five,
    await sign(rsa, { sub: 'late-10b' }, { exp: -10 }),
    'PG_AUTHN_TOKEN_EXPIRED',
    'token expired',
    'clockSkew 5s, exp 10 s ago',
  );
  const twenty = authenticator(t, [rsa], { clockSkew: '20s' });
  assert.equal(await accepted(twenty, await sign(rsa, { sub: 'late-10c' }, { exp: -10 })), 'late-10c');
  // A valid token passes the strict one, so the refusals above are about time only.
  assert.equal(await accepted(strict, await sign(rsa, { sub: 'fresh' }, { exp: 300 })), 'fresh');
});

test('an accepted token that is expired within the skew is not cached past exp + skew', async (t) => {
  const rsa = await asymKey('RS256', 'rsa-cache');
  const clock = manualClock();
  const a = authenticator(t, [rsa], { clockSkew: '2s' }, clock);
  // exp is now, so it is good for the 2 s of skew only; asked again after that it must be refused, not served from cache.
  const token = await sign(rsa, { sub: 'edge' }, { exp: 0 });
  assert.equal(await accepted(a, token), 'edge');
  clock.advance(3100);
  await refused(a, token, 'PG_AUTHN_TOKEN_EXPIRED', 'token expired', 'cached past exp + skew');
});

test('nbf: a token valid from 10 s in the future passes within the default skew and fails with clockSkew 0', async (t) => {
  const ec = await asymKey('ES256', 'ec-nbf');
  const lenient = authenticator(t, [ec]);
  const strict = authenticator(t, [ec], { clockSkew: '0s' });
  const early10 = await sign(ec, { sub: 'early-10', nbf: now() + 10 });
  assert.equal(await accepted(lenient, early10), 'early-10');
  await refused(strict, early10, 'PG_AUTHN_TOKEN_INVALID', 'token not yet valid', 'clockSkew 0, nbf in 10 s');
  await refused(
    lenient,
    await sign(ec, { sub: 'early-60', nbf: now() + 60 }),
    'PG_AUTHN_TOKEN_INVALID',
    'token not yet valid',
    'default skew, nbf in 60 s',
  );
  assert.equal(await accepted(strict, await sign(ec, { sub: 'now', nbf: now() - 1 })), 'now');
});

test('auth.jwt.algorithms: a token signed with an algorithm outside the list is refused, whatever key it names', async (t) => {
  const rsa = await asymKey('RS256', 'rsa-alg');
  const ec = await asymKey('ES256', 'ec-alg');
  const ed = await asymKey('EdDSA', 'ed-alg');
  const hmac = hmacKey('hmac-alg');
  const keys = [rsa, ec, ed, hmac];
  const onlyRs = authenticator(t, keys, { algorithms: ['RS256'] });
  const all = authenticator(t, keys);
  const tokens = {
    RS256: await sign(rsa, { sub: 'rs' }),
    ES256: await sign(ec, { sub: 'es' }),
    EdDSA: await sign(ed, { sub: 'ed' }),
    HS256: await sign(hmac, { sub: 'hs' }),
  };
  // Control: with the default list every one of them is good.
  for (const [alg, token] of Object.entries(tokens))
    assert.ok(await accepted(all, token), `${alg} with the default algorithms`);
  assert.equal(await accepted(onlyRs, tokens.RS256), 'rs');
  for (const alg of ['ES256', 'EdDSA', 'HS256'] as const) {
    await refused(
      onlyRs,
      tokens[alg],
      'PG_AUTHN_TOKEN_INVALID',
      'algorithm not allowed',
      `${alg} with algorithms [RS256]`,
    );
  }
  // An allowed algorithm on an RSA kid cannot be swapped for HS256 keyed with something else (alg confusion).
  const confused = await sign(hmac, { sub: 'confused' }, { header: { kid: 'rsa-alg' } });
  await refused(onlyRs, confused, 'PG_AUTHN_TOKEN_INVALID', 'algorithm not allowed', 'HS256 naming the RSA kid');

  const onlyEs = authenticator(t, keys, { algorithms: ['ES256', 'HS256'] });
  await refused(
    onlyEs,
    tokens.RS256,
    'PG_AUTHN_TOKEN_INVALID',
    'algorithm not allowed',
    'RS256 with algorithms [ES256, HS256]',
  );
  assert.equal(await accepted(onlyEs, tokens.ES256), 'es');
  assert.equal(await accepted(onlyEs, tokens.HS256), 'hs');
});
