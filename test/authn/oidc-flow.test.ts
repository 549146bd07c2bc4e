// The OIDC login flow end to end against an in-process oidc-provider: login, /oauth2/auth, userinfo, refresh, sign-out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startOidcProvider,
  lateServer,
  mountGateway,
  gatewayOidc,
  TestBrowser,
  type OidcProviderFixture,
  type TestGateway,
  type LateServer,
} from '../e2e/harness/oidc-provider.js';
import { manualClock, type ManualClock } from '../helpers/clock.js';

let idp: OidcProviderFixture;
let slots: LateServer[];
const gateways: TestGateway[] = [];
const alice = { id: 'alice', password: 'alice-pw' };

before(async () => {
  slots = await Promise.all(Array.from({ length: 5 }, () => lateServer()));
  idp = await startOidcProvider({
    redirectUris: slots.map((s) => `${s.url}/oauth2/callback`),
    postLogoutRedirectUris: slots.map((s) => `${s.url}/bye`),
    accessTokenTtl: 62,
  });
});
after(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await idp.close();
});

/** `clock` is the gateway's session clock: a test moves it past cookie-refresh or token expiry instead of sleeping. */
function gateway(
  i: number,
  extra: Parameters<typeof gatewayOidc>[2] = {},
  post = false,
  clock?: ManualClock,
): TestGateway {
  const gw = mountGateway(slots[i]!, gatewayOidc(idp, post ? idp.clients.post : idp.clients.basic, extra), {
    now: clock?.now,
  });
  gateways.push(gw);
  return gw;
}

const FULL = {
  setXAuthRequest: true,
  setAuthorizationHeader: true,
  passAccessToken: true,
  scopes: ['openid', 'email', 'profile', 'groups'],
};

test('login with client_secret_basic, then userinfo, auth headers, query limits and a protected page', async () => {
  const gw = gateway(0, FULL);
  const b = new TestBrowser();
  const { res } = await b.login(`${gw.url}/oauth2/start?rd=${encodeURIComponent('/protected/dash?x=1')}`, alice);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/protected/dash?x=1');
  assert.ok(b.jar.get('_oauth2_proxy'), 'session cookie set');
  assert.deepEqual(
    b.jar.names().filter((n) => n.includes('_csrf_')),
    [],
    'CSRF cookie cleared',
  );

  const info = await b.request(`${gw.url}/oauth2/userinfo`);
  assert.equal(info.status, 200);
  assert.deepEqual(await info.json(), {
    user: 'alice',
    email: 'alice@example.com',
    groups: ['team-a', 'admins'],
    preferredUsername: 'alice',
  });

  const auth = await b.request(`${gw.url}/oauth2/auth`);
  assert.equal(auth.status, 202);
  assert.equal(auth.headers.get('x-auth-request-user'), 'alice');
  assert.equal(auth.headers.get('x-auth-request-email'), 'alice@example.com');
  assert.equal(auth.headers.get('x-auth-request-groups'), 'team-a,admins');
  assert.equal(auth.headers.get('x-auth-request-preferred-username'), 'alice');
  assert.ok(auth.headers.get('x-auth-request-access-token'));
  assert.match(auth.headers.get('authorization') ?? '', /^Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.equal(auth.headers.get('set-cookie'), null, 'nothing to refresh yet');

  for (const [q, want] of [
    ['allowed_groups=nope', 403],
    ['allowed_groups=nope,admins', 202],
    ['allowed_emails=bob@other.org', 403],
    ['allowed_email_domains=example.com', 202],
    ['allowed_email_domains=other.org', 403],
    ['allowed_groups=team-a&allowed_emails=alice@example.com', 202],
  ] as const) {
    assert.equal((await b.request(`${gw.url}/oauth2/auth?${q}`)).status, want, q);
  }

  const page = await b.request(`${gw.url}/protected/dash`);
  assert.equal(page.status, 200);
  const body = (await page.json()) as { upstream: Record<string, string> };
  assert.equal(body.upstream['X-Forwarded-User'], 'alice');
  assert.equal(body.upstream['X-Forwarded-Groups'], 'team-a,admins');
  assert.ok(body.upstream['X-Forwarded-Access-Token']);
});

test('no session: auth 401, userinfo 401, browsers redirected to login, API clients get 401 JSON', async () => {
  const gw = gateway(1);
  const anon = new TestBrowser();
  assert.equal((await anon.request(`${gw.url}/oauth2/auth`)).status, 401);
  assert.equal((await anon.request(`${gw.url}/oauth2/userinfo`)).status, 401);
  const page = await anon.request(`${gw.url}/protected/graph?g0.expr=up`);
  assert.equal(page.status, 302);
  assert.equal(page.headers.get('location'), `/oauth2/start?rd=${encodeURIComponent('/protected/graph?g0.expr=up')}`);
  for (const headers of [
    { accept: 'application/json' },
    { 'x-requested-with': 'XMLHttpRequest' },
    { authorization: 'Bearer x' },
  ] as Record<string, string>[]) {
    const api = await anon.request(`${gw.url}/protected/api/v1/query`, { headers });
    assert.equal(api.status, 401);
    assert.deepEqual(Object.keys((await api.json()) as object).sort(), ['code', 'error', 'errorType', 'status']);
  }
  const garbage = new TestBrowser();
  garbage.jar.set('_oauth2_proxy', 'not-a-session', gw.url);
  assert.equal((await garbage.request(`${gw.url}/oauth2/auth`)).status, 401);
  assert.equal((await anon.request(`${gw.url}/ping`)).status, 200);
});

test('client_secret_post client; sign-in page; a user outside email-domains or unverified is refused', async () => {
  const gw = gateway(2, { emailDomains: ['example.com'] }, true);
  const signIn = await new TestBrowser().request(`${gw.url}/oauth2/sign_in?rd=/protected/x`);
  assert.equal(signIn.status, 200);
  assert.match(await signIn.text(), /href="\/oauth2\/start\?rd=%2Fprotected%2Fx"/);
  const ok = await new TestBrowser().login(`${gw.url}/oauth2/start`, alice);
  assert.equal(ok.res.status, 302);
  const bob = await new TestBrowser().login(`${gw.url}/oauth2/start`, { id: 'bob', password: 'bob-pw' });
  assert.equal(bob.res.status, 403, 'bob@other.org is not in email-domains');
  const mallory = await new TestBrowser().login(`${gw.url}/oauth2/start`, { id: 'mallory', password: 'mallory-pw' });
  assert.equal(mallory.res.status, 403, 'email_verified=false');
  assert.equal((await new TestBrowser().request(`${gw.url}/ready`)).status, 200);
});

test('refresh: 10 concurrent requests refresh once, every answer carries the new cookie; a revoked refresh token ends the session', async () => {
  const clock = manualClock();
  const gw = gateway(3, { ...FULL, cookie: { refresh: '1s' } }, false, clock);
  const b = new TestBrowser();
  await b.login(`${gw.url}/oauth2/start`, alice);
  const before = idp.tokenRequests('refresh_token');
  clock.advance(1100);
  const cookie = b.jar.header(gw.url);
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => fetch(`${gw.url}/oauth2/auth`, { headers: { cookie } })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(10).fill(202),
  );
  assert.equal(idp.tokenRequests('refresh_token') - before, 1, 'exactly one refresh at the provider');
  const cookies = answers.map((a) => a.headers.getSetCookie().find((c) => c.startsWith('_oauth2_proxy=')));
  assert.ok(
    cookies.every((c) => c !== undefined),
    'Set-Cookie on every auth answer, for nginx to relay',
  );
  b.jar.store(gw.url, answers[0]!.headers.getSetCookie());
  const again = await b.request(`${gw.url}/oauth2/auth`);
  assert.equal(again.status, 202);
  assert.equal(again.headers.get('set-cookie'), null, 'fresh session: no refresh');
  assert.equal(idp.tokenRequests('refresh_token') - before, 1);

  assert.ok((await idp.revokeRefreshTokens()) > 0);
  clock.advance(1100);
  const ended = await b.request(`${gw.url}/oauth2/auth`);
  assert.equal(ended.status, 401);
  assert.ok(
    ended.headers.getSetCookie().some((c) => c.startsWith('_oauth2_proxy=;') && c.includes('Max-Age=0')),
    'cookie cleared',
  );
  assert.equal((await b.request(`${gw.url}/protected/x`)).status, 302, 'the browser is sent to log in again');
});

test('an access token about to expire is refreshed on the next request', async () => {
  const clock = manualClock();
  const gw = gateway(4, FULL, false, clock);
  const b = new TestBrowser();
  await b.login(`${gw.url}/oauth2/start`, alice);
  const first = await b.request(`${gw.url}/oauth2/auth`);
  const at1 = first.headers.get('x-auth-request-access-token');
  const before = idp.tokenRequests('refresh_token');
  clock.advance(2100); // 62 s token: inside the 60 s margin now
  const second = await b.request(`${gw.url}/oauth2/auth`);
  assert.equal(second.status, 202);
  assert.equal(idp.tokenRequests('refresh_token') - before, 1);
  assert.notEqual(second.headers.get('x-auth-request-access-token'), at1, 'new access token passed on');
  assert.ok(second.headers.getSetCookie().length > 0);
});

test('sign_out clears the cookies and continues to the provider end_session_endpoint with id_token_hint', async () => {
  const gw = gateways[0]!;
  const b = new TestBrowser();
  await b.login(`${gw.url}/oauth2/start`, alice);
  const out = await b.request(`${gw.url}/oauth2/sign_out?rd=${encodeURIComponent('/bye')}`);
  assert.equal(out.status, 302);
  const loc = new URL(out.headers.get('location')!);
  assert.equal(loc.origin + loc.pathname, `${idp.issuer}/session/end`);
  assert.match(loc.searchParams.get('id_token_hint') ?? '', /^eyJ/);
  assert.equal(loc.searchParams.get('post_logout_redirect_uri'), `${gw.url}/bye`);
  assert.equal(loc.searchParams.get('client_id'), idp.clients.basic.clientId);
  assert.ok(out.headers.getSetCookie().some((c) => /^_oauth2_proxy=;.*Max-Age=0/.test(c)));
  assert.equal(b.jar.get('_oauth2_proxy'), undefined);
  assert.equal((await b.request(`${gw.url}/oauth2/auth`)).status, 401);
  const noRd = await new TestBrowser().request(
    `${gw.url}/oauth2/sign_out?rd=${encodeURIComponent('https://evil.com/')}`,
  );
  assert.equal(
    new URL(noRd.headers.get('location')!).searchParams.get('post_logout_redirect_uri'),
    null,
    'an invalid rd is dropped',
  );
});
