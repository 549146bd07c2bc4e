// OIDC sign-in on the whole gateway (in-process): route allowedGroups, the groups scope, Secure cookies, clientSecretFile, http issuers, rule failures on /oauth2/auth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOidcProvider, TestBrowser, type OidcProviderFixture } from '../e2e/harness/oidc-provider.js';
import { reservePort, type ReservedPort } from '../e2e/harness/ports.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startRuntime, startScope, type RuntimeGateway, type RuntimeOptions } from './oidc-runtime.js';

const alice = { id: 'alice', password: 'alice-pw' };
const bob = { id: 'bob', password: 'bob-pw' };
const NAMES = ['groups', 'secure', 'secretFile', 'wrongSecret', 'limits', 'open', 'strict'] as const;
let idp: OidcProviderFixture;
let app: Stub;
let ports: Record<(typeof NAMES)[number], number>;
/** Each port stays bound by a placeholder until its gateway starts: chosen early for the IdP's redirect URIs. */
const reserved = new Map<number, ReservedPort>();
let dir: string;
const gateways: RuntimeGateway[] = [];

before(async () => {
  app = await startStub(echoJson);
  const held = await Promise.all(NAMES.map(() => reservePort()));
  for (const r of held) reserved.set(r.port, r);
  ports = Object.fromEntries(NAMES.map((n, i) => [n, held[i]!.port] as const)) as typeof ports;
  idp = await startOidcProvider({
    redirectUris: Object.values(ports).map((p) => `http://127.0.0.1:${p}/oauth2/callback`),
  });
  dir = mkdtempSync(join(tmpdir(), 'pg-oidc-gateway-'));
});
after(async () => {
  await Promise.all([...reserved.values()].map((r) => r.release()));
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all([idp?.close(), app?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function gateway(port: number, o: RuntimeOptions = {}): Promise<RuntimeGateway> {
  await reserved.get(port)?.release();
  reserved.delete(port);
  const gw = await startRuntime(port, idp, idp.clients.basic, app, o);
  gateways.push(gw);
  return gw;
}

const appRequests = () => app.received.filter((r) => r.url !== '/-/ready');
const adminRoute = () => ({
  name: 'admin',
  prefix: '/admin',
  upstream: { url: app.url, type: 'http' },
  allowedGroups: ['admins'],
});

test('routes[].allowedGroups: a member passes, a signed-in non-member gets 403 there (and only there)', async () => {
  const gw = await gateway(ports.groups, { routes: [adminRoute()], oidc: { setXAuthRequest: true } });
  const a = new TestBrowser();
  assert.equal((await a.login(`${gw.url}/oauth2/start`, alice)).res.status, 302);
  const ok = await a.request(`${gw.url}/admin/settings`);
  assert.equal(ok.status, 200, 'alice is in admins');
  const seen = ((await ok.json()) as { data: { url: string; headers: Record<string, string> } }).data;
  assert.equal(seen.url, '/settings', 'the route owns /admin: the app sees the rest');
  assert.equal(
    seen.headers['x-forwarded-groups'],
    'team-a,admins',
    'no scopes configured, yet the groups arrived: the groups scope was asked for',
  );

  const b = new TestBrowser();
  assert.equal(
    (await b.login(`${gw.url}/oauth2/start`, bob)).res.status,
    302,
    'bob may sign in: the gateway has no sign-in group rule',
  );
  const before = appRequests().length;
  const denied = await b.request(`${gw.url}/admin/settings`);
  assert.equal(denied.status, 403, 'bob (team-b) is not in admins');
  assert.equal(appRequests().length, before, 'the refused request never reached the app');
  assert.equal((await b.request(`${gw.url}/admin`)).status, 403);
  assert.equal((await b.request(`${gw.url}/elsewhere`)).status, 200, 'routes without allowedGroups still serve bob');

  // The per-location limit nginx puts on /oauth2/auth.
  for (const [who, q, want] of [
    [a, 'admins', 202],
    [b, 'admins', 403],
    [b, 'admins,team-b', 202],
    [a, 'team-b', 403],
  ] as const) {
    assert.equal(
      (await who.request(`${gw.url}/oauth2/auth?allowed_groups=${q}`)).status,
      want,
      `${who === a ? 'alice' : 'bob'} allowed_groups=${q}`,
    );
  }
  assert.equal((await b.request(`${gw.url}/oauth2/auth`)).status, 202, 'without the query limit bob passes');
});

test('the groups scope is requested exactly when some rule looks at groups', async () => {
  const label = { namespace: ['team-a'] };
  const cases: [string, RuntimeOptions, boolean][] = [
    ['no group rules', {}, false],
    ['routes[].allowedGroups', { routes: [adminRoute()] }, true],
    ['tenants.rules[].match.groups', { tenants: { rules: [{ match: { groups: ['admins'] }, labels: label }] } }, true],
    ['a {{ group }} tenant label', { tenants: { rules: [{ labels: { namespace: '{{ group }}' } }] } }, true],
    ['auth.oidc.allowedGroups', { oidc: { allowedGroups: ['admins'] } }, true],
    ['tenant rules on users only', { tenants: { rules: [{ match: { users: ['alice'] }, labels: label }] } }, false],
    ['explicit scopes win', { oidc: { scopes: ['openid', 'email'] }, routes: [adminRoute()] }, false],
  ];
  for (const [what, o, groups] of cases) {
    const gw = await gateway(0, o);
    const scope = await startScope(new TestBrowser(), gw.url);
    assert.ok(scope.includes('openid'), `${what}: ${scope.join(' ')}`);
    assert.equal(scope.includes('groups'), groups, `${what}: scope=${scope.join(' ')}`);
  }
});

test('cookies are Secure by default (CSRF cookie at start, session cookie at callback); secure: false turns it off', async () => {
  const gw = await gateway(ports.secure);
  assert.equal(gw.gw.runtime().cfg.auth.oidc!.cookie.secure, true, 'the test config does not set cookie.secure');
  const start = await new TestBrowser().request(`${gw.url}/oauth2/start`);
  const csrf = start.headers.getSetCookie().find((c) => c.startsWith('_oauth2_proxy_csrf_'));
  assert.ok(csrf, 'a CSRF cookie is set');
  assert.match(csrf, /;\s*Secure(;|$)/);
  assert.match(csrf, /;\s*HttpOnly(;|$)/);

  const signedIn = await new TestBrowser().login(`${gw.url}/oauth2/start`, alice);
  assert.equal(signedIn.res.status, 302);
  const session = signedIn.res.headers.getSetCookie().find((c) => c.startsWith('_oauth2_proxy='));
  assert.ok(session, 'a session cookie is set');
  assert.match(session, /;\s*Secure(;|$)/);

  const insecure = await gateway(0, {
    oidc: { cookie: { secret: randomBytes(32).toString('base64'), secure: false } },
  });
  const plain = (await new TestBrowser().request(`${insecure.url}/oauth2/start`)).headers
    .getSetCookie()
    .find((c) => c.startsWith('_oauth2_proxy_csrf_'));
  assert.ok(plain);
  assert.doesNotMatch(plain, /Secure/);
});

test('auth.oidc.clientSecretFile: the secret is read from the file (trailing newline dropped) and login works end to end', async () => {
  const good = join(dir, 'client-secret');
  writeFileSync(good, `${idp.clients.basic.clientSecret}\n`);
  const gw = await gateway(ports.secretFile, { clientSecretFile: good });
  assert.equal(gw.gw.runtime().cfg.auth.oidc!.clientSecret, idp.clients.basic.clientSecret);
  const b = new TestBrowser();
  const { res } = await b.login(`${gw.url}/oauth2/start`, alice);
  assert.equal(res.status, 302);
  assert.ok(b.jar.get('_oauth2_proxy'));
  assert.equal((await b.request(`${gw.url}/oauth2/auth`)).status, 202);

  await assert.rejects(
    startRuntime(0, idp, idp.clients.basic, app, { clientSecretFile: join(dir, 'missing') }),
    (e: Error) => {
      assert.match(e.message, /clientSecretFile/);
      assert.match(e.message, /ENOENT/);
      return true;
    },
  );
});

test('a wrong client secret (from the file) fails the login as a refusal (403), not as "provider unreachable" (503)', async () => {
  const bad = join(dir, 'wrong-secret');
  writeFileSync(bad, 'not-the-secret\n');
  const wrong = await gateway(ports.wrongSecret, { clientSecretFile: bad });
  const w = new TestBrowser();
  const refused = await w.login(`${wrong.url}/oauth2/start`, alice);
  assert.equal(w.jar.get('_oauth2_proxy'), undefined, 'no session');
  assert.notEqual(refused.res.status, 302);
  const page = await refused.res.text();
  assert.doesNotMatch(page, /unreachable/, 'the provider answered; it refused the client credentials');
  assert.equal(refused.res.status, 403);
});

test('an http:// issuer without auth.oidc.insecure is refused at start-up, naming the keys', async () => {
  await assert.rejects(startRuntime(0, idp, idp.clients.basic, app, { oidc: { insecure: undefined } }), (e: Error) => {
    assert.match(e.message, /auth\.oidc\.issuerUrl/);
    assert.match(e.message, /https:\/\//);
    assert.match(e.message, /insecure/);
    return true;
  });
  await assert.rejects(
    startRuntime(0, idp, idp.clients.basic, app, { oidc: { insecure: false } }),
    /auth\.oidc\.issuerUrl/,
  );
});

test('/oauth2/auth query limits a signed-in user fails: 403', async () => {
  const open = await gateway(ports.limits);
  const b = new TestBrowser();
  assert.equal((await b.login(`${open.url}/oauth2/start`, bob)).res.status, 302);
  for (const [q, want] of [
    ['allowed_email_domains=example.com', 403],
    ['allowed_emails=alice@example.com', 403],
    ['allowed_groups=admins', 403],
    ['allowed_email_domains=other.org', 202],
    ['', 202],
  ] as const) {
    assert.equal((await b.request(`${open.url}/oauth2/auth?${q}`)).status, want, q);
  }
});

test('a session that fails the configured email-domain rule gets 401 at /oauth2/auth (oauth2-proxy), not 403', async () => {
  // bob@other.org signs in where every domain is allowed; the same cookie then reaches a gateway limited to example.com.
  const secret = randomBytes(32).toString('base64');
  const open = await gateway(ports.open, { oidc: { cookie: { secret } } });
  const strict = await gateway(ports.strict, { oidc: { cookie: { secret }, emailDomains: ['example.com'] } });
  const b = new TestBrowser();
  assert.equal((await b.login(`${open.url}/oauth2/start`, bob)).res.status, 302);
  assert.equal((await b.request(`${open.url}/oauth2/auth`)).status, 202, 'a valid session');
  const a = new TestBrowser();
  assert.equal((await a.login(`${strict.url}/oauth2/start`, alice)).res.status, 302);
  assert.equal((await a.request(`${strict.url}/oauth2/auth`)).status, 202, 'alice@example.com passes the rule');
  assert.equal(
    (await a.request(`${strict.url}/oauth2/auth?allowed_email_domains=other.org`)).status,
    403,
    'a query limit: 403',
  );
  const res = await b.request(`${strict.url}/oauth2/auth`);
  assert.equal(res.status, 401, `bob's session fails email-domains: got ${res.status}`);
  assert.equal(res.headers.get('x-auth-request-user'), null);
  assert.equal(
    (await b.request(`${strict.url}/app/page`)).status,
    403,
    'on a proxied page the same session is forbidden, as oauth2-proxy does',
  );
});
