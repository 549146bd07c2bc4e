// JWT auth: JWKS over HTTP and from files (HMAC too), several issuers, claim checks, the token cache, JWKS outages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createJwtAuthenticator } from '../../src/authn/jwt.js';
import { GatewayError } from '../../src/errors.js';
import { freePort } from '../e2e/harness/ports.js';
import { captureLogger, caught, jsonServer, tempDir, waitFor, writeFile } from './helpers.js';
import { manualClock } from '../helpers/clock.js';
import { asymKey, bearer, hmacKey, jwks, jwtConfig, sign } from './jwt-helpers.js';

const PMTP_TOKEN =
  'eyJhbGciOiJIUzI1NiIsImtpZCI6ImhtYWMta2V5In0.eyJuYW1lc3BhY2VzIjpbInByb21ldGhldXMiLCJhcHAtMSJdfQ.aMVibvV_meujcnRA1pgnSjBojtzvteZSf2xvq2MwZgc';

test('RS256 and ES256 tokens verify against a JWKS served over HTTP', async (t) => {
  const rsa = await asymKey('RS256', 'rsa-1');
  const ec = await asymKey('ES256', 'ec-1');
  const srv = await jsonServer(() => jwks(rsa, ec));
  t.after(() => srv.close());
  const a = createJwtAuthenticator(jwtConfig({ jwks: srv.url }), { logger: captureLogger().logger });
  t.after(() => a.close?.());
  await waitFor(() => a.ready?.() === true);
  const id = await a.authenticate(
    bearer(
      await sign(rsa, {
        sub: 's-1',
        preferred_username: 'alice',
        email: 'a@x.io',
        groups: ['g1', 'g2'],
        namespaces: ['n'],
      }),
    ),
  );
  assert.ok(id);
  assert.deepEqual(
    { subject: id.subject, user: id.user, email: id.email, groups: id.groups, method: id.method },
    { subject: 's-1', user: 'alice', email: 'a@x.io', groups: ['g1', 'g2'], method: 'jwt' },
  );
  assert.deepEqual(id.claims.namespaces, ['n']);
  const id2 = await a.authenticate(bearer(await sign(ec, { sub: 's-2', groups: 'solo' })));
  assert.deepEqual({ user: id2?.user, groups: id2?.groups }, { user: 's-2', groups: ['solo'] });
  const id3 = await a.authenticate(bearer(await sign(ec, { sub: 's-3', groups: ['ok', 7] })));
  assert.deepEqual(id3?.groups, [], 'a groups claim of the wrong shape yields no groups');
});

test('HS256 with an oct key from a JWKS file, as in prometheus-multi-tenant-proxy (README token, secret "lala")', async (t) => {
  const dir = tempDir(t);
  const rsa = await asymKey('RS256', 'rsa-key');
  const pmtp = hmacKey('hmac-key', new TextEncoder().encode('lala'));
  const strong = hmacKey('hmac-2');
  const file = writeFile(dir, 'jwks.json', JSON.stringify(jwks(pmtp, rsa, strong)));
  const { logger, lines } = captureLogger();
  const a = createJwtAuthenticator(jwtConfig({ jwks: file }), { logger });
  t.after(() => a.close?.());
  assert.equal(a.ready?.(), true);
  assert.ok(
    lines.some((l) => l.level === 40 && /only 4 bytes/.test(l.msg)),
    'a short HMAC secret is warned about',
  );
  const id = await a.authenticate(bearer(PMTP_TOKEN));
  assert.deepEqual(id?.claims, { namespaces: ['prometheus', 'app-1'] });
  assert.equal((await a.authenticate(bearer(await sign(strong, { sub: 'h' }))))?.subject, 'h');
  assert.equal((await a.authenticate(bearer(await sign(rsa, { sub: 'r' }))))?.subject, 'r');
});

test('several issuers: the unverified iss picks the key set, then issuer and audience are checked', async (t) => {
  const dir = tempDir(t);
  const ka = await asymKey('RS256', 'a');
  const kb = await asymKey('ES256', 'b');
  const srv = await jsonServer(() => jwks(ka));
  t.after(() => srv.close());
  const cfg = jwtConfig({
    issuers: [
      { issuer: 'https://a.example', jwks: srv.url, audience: 'promgate' },
      { issuer: 'https://b.example', jwks: writeFile(dir, 'b.json', JSON.stringify(jwks(kb))) },
    ],
  });
  const a = createJwtAuthenticator(cfg, { logger: captureLogger().logger });
  t.after(() => a.close?.());
  await waitFor(() => a.ready?.() === true);
  assert.equal(
    (await a.authenticate(bearer(await sign(ka, { sub: 'x', iss: 'https://a.example', aud: 'promgate' }))))?.subject,
    'x',
  );
  assert.equal((await a.authenticate(bearer(await sign(kb, { sub: 'y', iss: 'https://b.example' }))))?.subject, 'y');
  const cases: [string, Promise<string>, string][] = [
    [
      'B key claiming issuer A',
      sign(kb, { sub: 'z', iss: 'https://a.example', aud: 'promgate' }),
      'PG_AUTHN_TOKEN_INVALID',
    ],
    ['wrong audience', sign(ka, { sub: 'z', iss: 'https://a.example', aud: 'other' }), 'PG_AUTHN_TOKEN_INVALID'],
    ['no audience', sign(ka, { sub: 'z', iss: 'https://a.example' }), 'PG_AUTHN_TOKEN_INVALID'],
    ['unknown issuer', sign(ka, { sub: 'z', iss: 'https://c.example', aud: 'promgate' }), 'PG_AUTHN_TOKEN_INVALID'],
    ['no issuer', sign(ka, { sub: 'z', aud: 'promgate' }), 'PG_AUTHN_TOKEN_INVALID'],
  ];
  for (const [name, tok, code] of cases) {
    const e = await caught(async () => a.authenticate(bearer(await tok)));
    assert.ok(e instanceof GatewayError, name);
    assert.equal(e.code, code, name);
    assert.match(
      e.headers['www-authenticate'] ?? '',
      /^Bearer error="invalid_token", error_description="[^"]+"$/,
      name,
    );
  }
});

test('issuer and audience on the default key set', async (t) => {
  const dir = tempDir(t);
  const k = await asymKey('RS256', 'k');
  const cfg = jwtConfig({
    jwks: writeFile(dir, 'k.json', JSON.stringify(jwks(k))),
    issuer: 'https://idp',
    audience: ['api', 'promgate'],
  });
  const a = createJwtAuthenticator(cfg, { logger: captureLogger().logger });
  t.after(() => a.close?.());
  assert.ok(await a.authenticate(bearer(await sign(k, { sub: 's', iss: 'https://idp', aud: 'promgate' }))));
  await assert.rejects(
    async () => a.authenticate(bearer(await sign(k, { sub: 's', iss: 'https://evil', aud: 'promgate' }))),
    { code: 'PG_AUTHN_TOKEN_INVALID' },
  );
  await assert.rejects(
    async () => a.authenticate(bearer(await sign(k, { sub: 's', iss: 'https://idp', aud: 'other' }))),
    { code: 'PG_AUTHN_TOKEN_INVALID' },
  );
});

test('the Token header is the fallback; other Authorization schemes are left alone', async (t) => {
  const dir = tempDir(t);
  const k = hmacKey('h');
  const a = createJwtAuthenticator(jwtConfig({ jwks: writeFile(dir, 'h.json', JSON.stringify(jwks(k))) }), {
    logger: captureLogger().logger,
  });
  t.after(() => a.close?.());
  const tok = await sign(k, { sub: 'tok' });
  assert.equal((await a.authenticate({ headers: { token: tok }, path: '/' }))?.subject, 'tok');
  assert.equal(await a.authenticate({ headers: {}, path: '/' }), null);
  assert.equal(await a.authenticate({ headers: { authorization: 'Basic YTpi' }, path: '/' }), null);
  assert.equal(
    (await a.authenticate({ headers: { authorization: `bearer ${tok}` }, path: '/' }))?.subject,
    'tok',
    'scheme is case-insensitive',
  );
  await assert.rejects(async () => a.authenticate({ headers: { authorization: 'Bearer ' }, path: '/' }), {
    code: 'PG_AUTHN_MALFORMED',
  });
});

test('a cached token costs microseconds and still expires at its exp', async (t) => {
  const dir = tempDir(t);
  const k = await asymKey('RS256', 'k');
  const clock = manualClock();
  const a = createJwtAuthenticator(
    jwtConfig({ jwks: writeFile(dir, 'k.json', JSON.stringify(jwks(k))), clockSkew: 0 }),
    { logger: captureLogger().logger, now: clock.now },
  );
  t.after(() => a.close?.());
  const tok = await sign(k, { sub: 'c' }, { exp: 2 });
  const first = await a.authenticate(bearer(tok));
  const r = bearer(tok);
  const n = 2000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) assert.equal(a.authenticate(r), first, 'a cache hit answers synchronously');
  t.diagnostic(`cached RS256 check: ${(Number(process.hrtime.bigint() - start) / n / 1000).toFixed(2)} µs`);
  const expMs = (Math.floor(Date.now() / 1000) + 2) * 1000;
  // The authenticator's clock moves past exp; the token was signed with the real one.
  clock.advance(Math.max(0, expMs - clock.now()) + 1100);
  const e = await caught(() => a.authenticate(r));
  assert.ok(e instanceof GatewayError);
  assert.equal(e.code, 'PG_AUTHN_TOKEN_EXPIRED');
});

test('a JWKS URL that is down at start: not ready and 503 until it comes up, then tokens work', async (t) => {
  const k = await asymKey('RS256', 'late');
  const port = await freePort();
  const reports: boolean[] = [];
  const a = createJwtAuthenticator(jwtConfig({ jwks: `http://127.0.0.1:${port}/jwks.json`, remoteTimeout: 500 }), {
    logger: captureLogger().logger,
    jwksRetryMs: 50,
    onReload: (_s, ok) => void reports.push(ok),
  });
  t.after(() => a.close?.());
  const tok = await sign(k, { sub: 'late' });
  await waitFor(() => reports.includes(false));
  assert.equal(a.ready?.(), false);
  const e = await caught(() => a.authenticate(bearer(tok)));
  assert.ok(e instanceof GatewayError);
  assert.equal(e.code, 'PG_AUTHN_UNAVAILABLE');
  assert.equal(e.status, 503);
  const srv = await jsonServer(() => jwks(k), port);
  t.after(() => srv.close());
  await waitFor(() => a.ready?.() === true, 8000);
  assert.equal((await a.authenticate(bearer(tok)))?.subject, 'late');
});

test('a config reload keeps the keys of a JWKS URL: tokens keep working at once, even with the key server down', async (t) => {
  const k = await asymKey('RS256', 'kept');
  let up = true;
  // Once down, the server answers with something that is not a key set: every fetch fails.
  const srv = await jsonServer(() => (up ? jwks(k) : { error: 'down' }));
  t.after(() => srv.close());
  const cfg = jwtConfig({ jwks: srv.url, remoteTimeout: 500 });
  const before = createJwtAuthenticator(cfg, { logger: captureLogger().logger });
  t.after(() => before.close?.());
  await waitFor(() => before.ready?.() === true);
  const tok = await sign(k, { sub: 'kept' });
  up = false;
  // What a reload does: a new authenticator from the same config slice, the old one closed.
  before.close?.();
  const after = createJwtAuthenticator(cfg, { logger: captureLogger().logger, jwksRetryMs: 50 });
  t.after(() => after.close?.());
  assert.equal(after.ready?.(), true, 'ready at once with the last good keys');
  assert.equal((await after.authenticate(bearer(tok)))?.subject, 'kept');
});

test('a JWKS URL that rotates keys: an unknown kid triggers one re-fetch', async (t) => {
  const k1 = await asymKey('RS256', 'k1');
  const k2 = await asymKey('ES256', 'k2');
  let served = jwks(k1);
  const srv = await jsonServer(() => served);
  t.after(() => srv.close());
  const a = createJwtAuthenticator(jwtConfig({ jwks: srv.url, remoteCooldown: 0 }), { logger: captureLogger().logger });
  t.after(() => a.close?.());
  await waitFor(() => a.ready?.() === true);
  served = jwks(k1, k2);
  assert.equal((await a.authenticate(bearer(await sign(k2, { sub: 'new' }))))?.subject, 'new');
});

test('a JWKS file reloads on change; a bad file keeps the last good keys', async (t) => {
  const dir = tempDir(t);
  const k1 = await asymKey('RS256', 'k1');
  const k2 = await asymKey('RS256', 'k2');
  const file = writeFile(dir, 'keys.json', JSON.stringify(jwks(k1)));
  const reports: [boolean, string | undefined][] = [];
  const a = createJwtAuthenticator(jwtConfig({ jwks: file }), {
    logger: captureLogger().logger,
    onReload: (_s, ok, why) => void reports.push([ok, why]),
  });
  t.after(() => a.close?.());
  const t1 = await sign(k1, { sub: 'one' });
  assert.ok(await a.authenticate(bearer(t1)));
  writeFileSync(file, JSON.stringify(jwks(k2)));
  await waitFor(() => reports.length > 0);
  assert.equal((await a.authenticate(bearer(await sign(k2, { sub: 'two' }))))?.subject, 'two');
  await assert.rejects(
    async () => a.authenticate(bearer(t1)),
    { code: 'PG_AUTHN_TOKEN_INVALID' },
    'a removed key stops working, cached or not',
  );
  writeFileSync(file, '{"keys": [{"kty": "RSA", "kid": "bad", "n": "xx"}]}');
  await a.reload?.();
  assert.equal(reports.at(-1)?.[0], false);
  assert.match(reports.at(-1)?.[1] ?? '', /keys\[0\] \(kid bad\): invalid RSA key/);
  assert.ok(await a.authenticate(bearer(await sign(k2, { sub: 'still' }))));
});
