// skip-jwt-bearer-tokens and extra-jwt-issuers against real oidc-provider ID tokens: accepted on /oauth2/auth and app routes, wrong iss/aud/key refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
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
import { freePort } from '../e2e/harness/ports.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startRuntime, idTokenOf, type RuntimeGateway } from './oidc-runtime.js';
import { rsaKeyPair } from '../helpers/rsa-keys.js';

const alice = { id: 'alice', password: 'alice-pw' };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let idp: OidcProviderFixture;
let other: OidcProviderFixture;
let app: Stub;
let bearerGw: RuntimeGateway;
let cookieOnlyGw: RuntimeGateway;
const minters: TestGateway[] = [];
/** alice's ID tokens: from the gateway's own client, another client of the same issuer, and two clients of a second issuer. */
const tokens = {} as Record<'own' | 'otherClient' | 'extraIssuer' | 'extraWrongAud', string>;

before(async () => {
  app = await startStub(echoJson);
  const ports = { bearer: await freePort(), cookieOnly: await freePort() };
  const slots: LateServer[] = await Promise.all([lateServer(), lateServer(), lateServer()]);
  idp = await startOidcProvider({
    redirectUris: [
      ...Object.values(ports).map((p) => `http://127.0.0.1:${p}/oauth2/callback`),
      `${slots[0]!.url}/oauth2/callback`,
    ],
  });
  other = await startOidcProvider({ redirectUris: slots.slice(1).map((s) => `${s.url}/oauth2/callback`) });
  const opts = { setAuthorizationHeader: true };
  bearerGw = await startRuntime(ports.bearer, idp, idp.clients.basic, app, {
    oidc: {
      skipJwtBearerTokens: true,
      extraJwtIssuers: [`${other.issuer}=${other.clients.post.clientId}`],
      setXAuthRequest: true,
      scopes: ['openid', 'email', 'profile', 'groups'],
      ...opts,
    },
  });
  cookieOnlyGw = await startRuntime(ports.cookieOnly, idp, idp.clients.basic, app, {
    oidc: { setXAuthRequest: true, ...opts },
  });

  const b = new TestBrowser();
  assert.equal((await b.login(`${bearerGw.url}/oauth2/start`, alice)).res.status, 302);
  tokens.own = await idTokenOf(b, bearerGw.url);
  const mint = async (slot: LateServer, provider: OidcProviderFixture, post: boolean) => {
    const gw = mountGateway(slot, gatewayOidc(provider, post ? provider.clients.post : provider.clients.basic, opts));
    minters.push(gw);
    const mb = new TestBrowser();
    await mb.login(`${gw.url}/oauth2/start`, alice);
    return idTokenOf(mb, gw.url);
  };
  tokens.otherClient = await mint(slots[0]!, idp, true);
  tokens.extraIssuer = await mint(slots[1]!, other, true);
  tokens.extraWrongAud = await mint(slots[2]!, other, false);
  // The first bearer request of a gateway answers 503 today while the JWKS is fetched (see the last test);
  // wait that out here so the other tests are about which tokens count, not about start-up.
  for (const t of [tokens.own, tokens.extraIssuer]) {
    for (let i = 0; i < 50 && (await fetch(`${bearerGw.url}/oauth2/auth`, { headers: bearer(t) })).status === 503; i++)
      await sleep(20);
  }
});

after(async () => {
  await Promise.all([bearerGw?.close(), cookieOnlyGw?.close(), ...minters.map((m) => m.close())]);
  await Promise.all([idp?.close(), other?.close(), app?.close()]);
});

const payload = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iss: string; aud: string | string[] };

test('the tokens are what the test says they are (issuer and audience)', () => {
  assert.deepEqual([payload(tokens.own).iss, payload(tokens.own).aud], [idp.issuer, idp.clients.basic.clientId]);
  assert.deepEqual(
    [payload(tokens.otherClient).iss, payload(tokens.otherClient).aud],
    [idp.issuer, idp.clients.post.clientId],
  );
  assert.deepEqual(
    [payload(tokens.extraIssuer).iss, payload(tokens.extraIssuer).aud],
    [other.issuer, other.clients.post.clientId],
  );
  assert.deepEqual(
    [payload(tokens.extraWrongAud).iss, payload(tokens.extraWrongAud).aud],
    [other.issuer, other.clients.basic.clientId],
  );
});

test('skip-jwt-bearer-tokens: the provider ID token as Authorization: Bearer passes /oauth2/auth without a cookie', async () => {
  const res = await fetch(`${bearerGw.url}/oauth2/auth`, { headers: bearer(tokens.own) });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get('x-auth-request-user'), 'alice');
  assert.equal(res.headers.get('x-auth-request-email'), 'alice@example.com');
  assert.equal(res.headers.get('x-auth-request-groups'), 'team-a,admins');
  assert.equal(res.headers.get('set-cookie'), null, 'a bearer request creates no session');
  const info = await fetch(`${bearerGw.url}/oauth2/userinfo`, { headers: bearer(tokens.own) });
  assert.equal(info.status, 200);
  assert.equal(((await info.json()) as { user: string }).user, 'alice');
  // The query limits apply to bearer identities as to sessions.
  assert.equal(
    (await fetch(`${bearerGw.url}/oauth2/auth?allowed_groups=admins`, { headers: bearer(tokens.own) })).status,
    202,
  );
  assert.equal(
    (await fetch(`${bearerGw.url}/oauth2/auth?allowed_groups=team-b`, { headers: bearer(tokens.own) })).status,
    403,
  );
});

test('skip-jwt-bearer-tokens: the bearer token reaches a proxied app route as alice', async () => {
  const res = await fetch(`${bearerGw.url}/reports/q1`, {
    headers: { ...bearer(tokens.own), accept: 'application/json' },
    redirect: 'manual',
  });
  assert.equal(res.status, 200);
  const seen = ((await res.json()) as { data: { url: string; headers: Record<string, string> } }).data;
  assert.equal(seen.url, '/reports/q1');
  assert.equal(seen.headers['x-forwarded-user'], 'alice');
  assert.equal(seen.headers['x-forwarded-email'], 'alice@example.com');
});

test("extra-jwt-issuers: a second issuer's token with the configured audience passes", async () => {
  const res = await fetch(`${bearerGw.url}/oauth2/auth`, { headers: bearer(tokens.extraIssuer) });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get('x-auth-request-user'), 'alice');
  const page = await fetch(`${bearerGw.url}/x`, { headers: bearer(tokens.extraIssuer), redirect: 'manual' });
  assert.equal(page.status, 200);
});

test('refused with 401: wrong audience (same issuer, other client), wrong audience for the extra issuer, unknown issuer, forged key', async () => {
  const unknown = await startOidcProvider({ redirectUris: ['http://127.0.0.1:9/cb'] });
  const { privateKey } = await rsaKeyPair('RS256'); // never the provider's: no key is handed out twice in a process
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'alice', email: 'alice@example.com', preferred_username: 'alice', groups: ['admins'] };
  const sign = (iss: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setIssuer(iss)
      .setAudience(idp.clients.basic.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
  try {
    const cases: [string, string][] = [
      ['aud = another client of the login issuer', tokens.otherClient],
      ['aud = a client of the extra issuer other than the configured one', tokens.extraWrongAud],
      ['iss = a provider nobody configured', await sign(unknown.issuer)],
      ['iss = the login issuer, signed with a key it never published', await sign(idp.issuer)],
      ['not a JWT', 'opaque-access-token-value'],
    ];
    for (const [what, t] of cases) {
      const auth = await fetch(`${bearerGw.url}/oauth2/auth`, { headers: bearer(t) });
      assert.equal(auth.status, 401, `/oauth2/auth: ${what}`);
      assert.equal(auth.headers.get('x-auth-request-user'), null, what);
      const page = await fetch(`${bearerGw.url}/reports/q1`, { headers: bearer(t), redirect: 'manual' });
      assert.equal(page.status, 401, `app route: ${what}`);
    }
    const appRequests = () => app.received.filter((r) => r.url !== '/-/ready').length;
    const before = appRequests();
    await fetch(`${bearerGw.url}/reports/q1`, { headers: bearer(tokens.otherClient), redirect: 'manual' });
    assert.equal(appRequests(), before, 'a refused token reaches nothing upstream');
  } finally {
    await unknown.close();
  }
});

test('without skip-jwt-bearer-tokens the same valid ID token is not a login', async () => {
  const auth = await fetch(`${cookieOnlyGw.url}/oauth2/auth`, { headers: bearer(tokens.own) });
  assert.equal(auth.status, 401);
  const page = await fetch(`${cookieOnlyGw.url}/reports/q1`, { headers: bearer(tokens.own), redirect: 'manual' });
  assert.equal(page.status, 401, 'an Authorization header marks an API client: 401, not a login redirect');
});

test('the first bearer request after start is accepted, not 503 while the provider keys are still being fetched', async () => {
  // A provider of its own: no other gateway in this process has fetched its JWKS.
  const port = await freePort();
  const fresh = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/oauth2/callback`] });
  const gw = await startRuntime(port, fresh, fresh.clients.basic, app, {
    oidc: { skipJwtBearerTokens: true, setAuthorizationHeader: true, setXAuthRequest: true },
  });
  try {
    const b = new TestBrowser();
    await b.login(`${gw.url}/oauth2/start`, alice);
    const token = await idTokenOf(b, gw.url);
    const first = await fetch(`${gw.url}/oauth2/auth`, { headers: bearer(token) });
    assert.equal(first.status, 202, `first bearer request answered ${first.status} ${await first.text()}`);
    assert.equal(first.headers.get('x-auth-request-user'), 'alice');
  } finally {
    await gw.close();
    await fresh.close();
  }
});
