// /oauth2/auth and friends without a provider: status codes, headers, skip-auth via X-Forwarded-Uri, trust, allowed rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Identity } from '../../src/authn/identity.js';
import { authResponseHeaders, upstreamIdentityHeaders } from '../../src/signin/headers.js';
import { emailAllowed, isAllowed, queryAllows, validEmail } from '../../src/authz/allowed.js';
import { ALICE, start, stopAll } from './endpoint-fixture.js';

let plain: string;
let trustedGw: string;
let untrustedGw: string;
before(async () => {
  plain = await start(
    { setXAuthRequest: true, setAuthorizationHeader: true, passAccessToken: true, apiRoutes: ['^/api/'] },
    [],
  );
  trustedGw = await start({ skipAuthRoutes: ['GET=^/public/', '^/health$'] }, ['127.0.0.1/32']);
  untrustedGw = await start({ skipAuthRoutes: ['GET=^/public/', '^/health$'] }, ['10.0.0.0/8']);
});
after(stopAll);

test('auth: 202 with identity headers, 401 without identity, 401 + cookie cleared for an ended session', async () => {
  const ok = await fetch(`${plain}/oauth2/auth`, { headers: { 'x-test-user': 'alice', 'x-test-refresh': '1' } });
  assert.equal(ok.status, 202);
  assert.equal(ok.headers.get('x-auth-request-groups'), 'team-a,admins');
  assert.equal(ok.headers.get('x-auth-request-access-token'), 'at-1');
  assert.equal(ok.headers.get('authorization'), 'Bearer h.p.s');
  assert.deepEqual(ok.headers.getSetCookie(), ['_oauth2_proxy=new; Path=/'], 'refreshed cookie relayed on the 202');
  assert.equal((await fetch(`${plain}/oauth2/auth`)).status, 401);
  const ended = await fetch(`${plain}/oauth2/auth`, {
    headers: { 'x-test-user': 'expired', cookie: '_oauth2_proxy=x; _oauth2_proxy_1=y' },
  });
  assert.equal(ended.status, 401);
  assert.equal(ended.headers.getSetCookie().filter((c) => c.includes('Max-Age=0')).length, 2);
  assert.equal(
    (await fetch(`${plain}/oauth2/auth?allowed_groups=x`, { headers: { 'x-test-user': 'alice' } })).status,
    403,
  );
});

test('skip-auth-route through /oauth2/auth uses X-Forwarded-Uri only from trusted proxies, and only its path', async () => {
  const fwd = (uri: string, method = 'GET') => ({
    'x-forwarded-uri': uri,
    'x-forwarded-method': method,
    'x-forwarded-host': 'app.example.com',
  });
  assert.equal((await fetch(`${trustedGw}/oauth2/auth`, { headers: fwd('/public/x.css') })).status, 202);
  assert.equal(
    (await fetch(`${trustedGw}/oauth2/auth`, { headers: fwd('/public/x.css', 'POST') })).status,
    401,
    'GET-only rule',
  );
  assert.equal(
    (await fetch(`${untrustedGw}/oauth2/auth`, { headers: fwd('/public/x.css') })).status,
    401,
    'spoofed from an untrusted address: ignored',
  );
  for (const trick of [
    '/private?x=/public/',
    '/private#/public/',
    '/private%23/public/',
    '/public/../private',
    '/public/%2e%2e/admin',
    '/health?x',
    '/health%3F',
  ]) {
    const want = trick === '/health?x' ? 202 : 401;
    assert.equal((await fetch(`${trustedGw}/oauth2/auth`, { headers: fwd(trick) })).status, want, trick);
  }
});

test('unauthenticated: browsers go to start with rd = the original URL; API clients and api-routes get 401 JSON', async () => {
  const page = await fetch(`${plain}/graph?g0.expr=up%7Bjob%3D%22a%22%7D`, { redirect: 'manual' });
  assert.equal(page.status, 302);
  const loc = new URL(page.headers.get('location')!, plain);
  assert.equal(loc.pathname, '/oauth2/start');
  assert.equal(loc.searchParams.get('rd'), '/graph?g0.expr=up%7Bjob%3D%22a%22%7D');
  const api = await fetch(`${plain}/api/v1/query?query=up`, { redirect: 'manual' });
  assert.equal(api.status, 401);
  assert.deepEqual(await api.json(), {
    status: 'error',
    errorType: 'unauthorized',
    error: 'authentication required',
    code: 'PG_AUTHN_REQUIRED',
  });
  assert.equal(
    (await fetch(`${plain}/x`, { redirect: 'manual', headers: { accept: 'application/json' } })).status,
    401,
  );
});

test('userinfo, ping, ready, sign_in page', async () => {
  const info = await fetch(`${plain}/oauth2/userinfo`, { headers: { 'x-test-user': 'alice' } });
  assert.deepEqual(await info.json(), {
    user: 'alice',
    email: 'alice@example.com',
    groups: ['team-a', 'admins'],
    preferredUsername: 'alice',
  });
  assert.equal((await fetch(`${plain}/ping`)).status, 200);
  assert.equal((await fetch(`${plain}/ready`)).status, 503, 'provider not discovered');
  const page = await fetch(`${plain}/oauth2/sign_in?rd=%2F%2Fevil.com`);
  const html = await page.text();
  assert.match(html, /href="\/oauth2\/start\?rd=%2F"/, 'an unsafe rd becomes /');
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
});

test('--skip-provider-button: sign_in goes straight to the provider flow', async () => {
  const gw = await start({ skipProviderButton: true }, []);
  const r = await fetch(`${gw}/oauth2/sign_in?rd=%2Fgraph`, { redirect: 'manual' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/oauth2/start?rd=%2Fgraph');
});

test('auth: a caller the sign-in rules refuse is 401 (as oauth2-proxy); 403 only for the query limits', async () => {
  const gw = await start({ emailDomains: ['other.org'] }, []);
  const refused = await fetch(`${gw}/oauth2/auth`, { headers: { 'x-test-user': 'alice' } });
  assert.equal(refused.status, 401, 'alice@example.com is outside the email domains');
  const ok = await fetch(`${plain}/oauth2/auth`, { headers: { 'x-test-user': 'alice' } });
  assert.equal(ok.status, 202);
  const limited = await fetch(`${plain}/oauth2/auth?allowed_groups=ops`, { headers: { 'x-test-user': 'alice' } });
  assert.equal(limited.status, 403);
});

test('identity headers: names, values without control characters, flags', () => {
  const evil: Identity = { ...ALICE, user: 'alice\r\nX-Injected: 1', groups: ['a\nb', 'c'] };
  const h = authResponseHeaders(evil, {
    setXAuthRequest: true,
    setAuthorizationHeader: false,
    passAccessToken: false,
    passAuthorizationHeader: false,
    passUserHeaders: true,
  });
  assert.equal(h['X-Auth-Request-User'], 'aliceX-Injected: 1');
  assert.equal(h['X-Auth-Request-Groups'], 'ab,c');
  assert.equal(h['X-Auth-Request-Access-Token'], undefined);
  assert.equal(h.Authorization, undefined);
  const up = upstreamIdentityHeaders(ALICE, {
    setXAuthRequest: false,
    setAuthorizationHeader: false,
    passAccessToken: true,
    passAuthorizationHeader: true,
    passUserHeaders: true,
  });
  assert.deepEqual(up, {
    'X-Forwarded-User': 'alice',
    'X-Forwarded-Email': 'alice@example.com',
    'X-Forwarded-Groups': 'team-a,admins',
    'X-Forwarded-Preferred-Username': 'alice',
    'X-Forwarded-Access-Token': 'at-1',
    Authorization: 'Bearer h.p.s',
  });
  assert.deepEqual(
    upstreamIdentityHeaders(ALICE, {
      setXAuthRequest: false,
      setAuthorizationHeader: false,
      passAccessToken: false,
      passAuthorizationHeader: false,
      passUserHeaders: false,
    }),
    {},
  );
});

test('groups holding a comma (LDAP DNs) or a percent sign are escaped, so the header splits into exactly the groups there were', () => {
  const groups = ['cn=admins,ou=groups,dc=example', '50%', 'plain'];
  const id: Identity = { ...ALICE, groups };
  const flags = {
    setXAuthRequest: true,
    setAuthorizationHeader: false,
    passAccessToken: false,
    passAuthorizationHeader: false,
    passUserHeaders: true,
  };
  for (const value of [
    authResponseHeaders(id, flags)['X-Auth-Request-Groups'],
    upstreamIdentityHeaders(id, flags)['X-Forwarded-Groups'],
  ]) {
    assert.equal(value, 'cn=admins%2Cou=groups%2Cdc=example,50%25,plain');
    assert.deepEqual(value!.split(',').map(decodeURIComponent), groups);
  }
});

test('allowed rules: email domains, emails, groups, malformed emails', () => {
  assert.equal(validEmail('a@b.c'), true);
  for (const bad of ['a@b@evil.com', '@b.c', 'a@', 'a b@c.d', 'a@b.c\n', 'plain'])
    assert.equal(validEmail(bad), false, bad);
  const rules = { emailDomains: ['example.com', '.corp.net'], allowedEmails: ['guest@gmail.com'], allowedGroups: [] };
  assert.equal(emailAllowed('x@example.com', rules), true);
  assert.equal(emailAllowed('x@EXAMPLE.com', rules), true);
  assert.equal(emailAllowed('x@sub.example.com', rules), false);
  assert.equal(emailAllowed('x@dev.corp.net', rules), true);
  assert.equal(emailAllowed('x@corp.net', rules), false);
  assert.equal(emailAllowed('guest@gmail.com', rules), true);
  assert.equal(emailAllowed('x@example.com@evil.com', rules), false);
  assert.equal(emailAllowed('x@evilexample.com', rules), false);
  assert.equal(emailAllowed(undefined, rules), false);
  assert.equal(emailAllowed(undefined, { emailDomains: ['*'], allowedEmails: [] }), true);
  assert.equal(emailAllowed('a@b@c', { emailDomains: ['*'], allowedEmails: [] }), false);
  assert.equal(isAllowed({ email: 'x@example.com', groups: ['g1'] }, { ...rules, allowedGroups: ['g2'] }), false);
  assert.equal(isAllowed({ email: 'x@example.com', groups: ['g1', 'g2'] }, { ...rules, allowedGroups: ['g2'] }), true);
  const q = (s: string) => new URLSearchParams(s);
  assert.equal(queryAllows({ email: 'x@example.com', groups: ['g'] }, q('allowed_email_domains=*')), true);
  assert.equal(queryAllows({ groups: ['g'] }, q('allowed_emails=x@example.com')), false);
});
