// Two promgate replicas sharing a real redis-server: a session made on one works on the other, refreshes once, and sign-out ends it on both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import {
  startStack,
  startPromgate,
  reservePort,
  promgateBuilt,
  elapsed,
  type Stack,
  type PromgateProc,
} from './harness/index.js';
import { startOidcProvider, TestBrowser, type OidcProviderFixture } from './harness/oidc-provider.js';
import { startRedis, type RedisInstance } from './harness/redis.js';

const skip = promgateBuilt() ? false : 'build first: npx tsc -p tsconfig.json';
const alice = { id: 'alice', password: 'alice-pw' };
const QUERY = `/api/v1/query?query=${encodeURIComponent('sum by (namespace) (http_requests_total)')}`;
const JSON_ACCEPT = { accept: 'application/json' };

let stack: Stack;
let redis: RedisInstance;
let idp: OidcProviderFixture;
let a: PromgateProc;
let b: PromgateProc;

/** Like Promise.all, but waits for every start, so after() can stop whatever did start when one fails. */
async function allStarted(starts: Promise<unknown>[]): Promise<void> {
  for (const r of await Promise.allSettled(starts)) if (r.status === 'rejected') throw r.reason;
}

before(async () => {
  if (skip) return;
  // Held by placeholders until each promgate starts: the IdP must know them first, and a concurrent test process
  // must not bind them meanwhile (it once did, and this test's browser reached another file's app).
  const held = await Promise.all([reservePort(), reservePort()]);
  const [portA, portB] = held.map((h) => h.port) as [number, number];
  await allStarted([
    startStack().then((s) => (stack = s)),
    startRedis().then((r) => (redis = r)),
    startOidcProvider({ redirectUris: [portA, portB].map((p) => `http://127.0.0.1:${p}/oauth2/callback`) }).then(
      (p) => (idp = p),
    ),
  ]);
  // Same cookie secret and Redis on both: any replica opens any ticket; only the port differs.
  const secret = randomBytes(32).toString('base64');
  const config = (port: number) =>
    stringify({
      server: { host: '127.0.0.1', port, logLevel: 'warn' },
      routes: [{ name: 'prometheus', prefix: '/', upstream: { url: stack.prom.base } }],
      auth: {
        oidc: {
          issuerUrl: idp.issuer,
          clientId: idp.clients.basic.clientId,
          clientSecret: idp.clients.basic.clientSecret,
          insecure: true,
          sessionStore: 'redis',
          redisUrl: redis.url,
          cookie: { secret, secure: false, refresh: '2s' },
        },
      },
      tenants: { rules: [{ match: { emails: ['alice@example.com'] }, labels: { namespace: 'team-a' } }] },
    });
  await Promise.all(held.map((h) => h.release()));
  await allStarted([
    startPromgate({ port: portA, configYaml: config(portA) }).then((p) => (a = p)),
    startPromgate({ port: portB, configYaml: config(portB) }).then((p) => (b = p)),
  ]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await idp?.close();
  await redis?.stop();
  await stack?.stop();
});

async function namespaces(browser: TestBrowser, base: string): Promise<string[]> {
  const r = await browser.request(base + QUERY, { headers: JSON_ACCEPT });
  assert.equal(r.status, 200, `${base}: ${r.status}`);
  const body = (await r.json()) as { data: { result: { metric: { namespace: string } }[] } };
  return body.data.result.map((s) => s.metric.namespace).sort();
}

const sessionKeys = async () =>
  Number((await redis.command("EVAL \"return #redis.call('keys', 'promgate:session:*')\" 0")).slice(1));

test(
  'login on replica A, the session works on B, one refresh for both, sign-out on B ends it on A',
  { skip },
  async () => {
    const browser = new TestBrowser();
    const { res } = await browser.login(`${a.url}/oauth2/start?rd=${encodeURIComponent(QUERY)}`, alice);
    const loggedIn = Date.now();
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), QUERY);
    const ticket = browser.jar.get('_oauth2_proxy');
    assert.ok(
      ticket && ticket.length < 400,
      `the cookie holds a small ticket, not the session (${ticket?.length} bytes)`,
    );
    assert.equal(await sessionKeys(), 1, 'the session lives in Redis');

    // The same cookie on replica B: userinfo, and a proxied query limited to alice's tenant.
    for (const base of [b.url, a.url]) {
      const info = await browser.request(`${base}/oauth2/userinfo`);
      assert.equal(info.status, 200, base);
      assert.deepEqual(await info.json(), { user: 'alice', email: 'alice@example.com', preferredUsername: 'alice' });
      assert.deepEqual(await namespaces(browser, base), ['team-a'], base);
    }

    // Past cookie-refresh, concurrent requests on both replicas refresh once (Redis lock) and set no cookie.
    // A real interval: cookie-refresh (2s) must pass on the spawned replicas' clocks since the session was made.
    await elapsed(loggedIn, 2100);
    const before = idp.tokenRequests('refresh_token');
    const cookie = browser.jar.header(a.url);
    const answers = await Promise.all(
      [a, b, a, b, a, b].map((r) => fetch(`${r.url}/oauth2/userinfo`, { headers: { cookie } })),
    );
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(idp.tokenRequests('refresh_token') - before, 1, 'one refresh at the provider for the whole cluster');
    assert.deepEqual(
      answers.flatMap((r) => r.headers.getSetCookie()),
      [],
      'the ticket cookie stays as it is',
    );
    assert.deepEqual(await namespaces(browser, b.url), ['team-a']);
    assert.equal(idp.tokenRequests('refresh_token') - before, 1, 'the refreshed session is shared: no second refresh');

    // Sign out on B: the cookie is cleared there, and the server-side session is deleted for every replica.
    const kept = browser.clone();
    const out = await browser.request(`${b.url}/oauth2/sign_out`);
    assert.equal(out.status, 302);
    assert.ok(
      out.headers.getSetCookie().some((c) => /^_oauth2_proxy=;.*Max-Age=0/.test(c)),
      'cookie cleared on B',
    );
    assert.equal(await sessionKeys(), 0, 'the session is gone from Redis');
    for (const base of [a.url, b.url]) {
      const info = await kept.request(`${base}/oauth2/userinfo`);
      assert.equal(info.status, 401, `${base}: the replayed ticket no longer opens a session`);
      const q = await kept.request(base + QUERY, { headers: JSON_ACCEPT });
      assert.equal(q.status, 401);
      assert.equal(((await q.json()) as { code: string }).code, 'PG_AUTHN_REQUIRED');
    }
    const page = await kept.request(`${a.url}/graph`);
    assert.equal(page.status, 302, 'a browser is sent to sign in again');
    assert.match(page.headers.get('location') ?? '', /^\/oauth2\/start\?rd=/);
  },
);
