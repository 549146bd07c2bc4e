// Issue 15.2: the OpenID provider and Redis go down and come back while promgate runs. Existing sessions keep
// working until they need the provider (a refresh due while the access token is still valid keeps the session); a sign-in that needs it gets a clear 503 page; a Redis session store fails
// closed (503, never "signed out" and never "let in"); both recover without a restart. (A JWKS URL going down while
// its keys are cached: test/authn/jwt.test.ts, "a config reload keeps the keys of a JWKS URL".)
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
} from '../e2e/harness/oidc-provider.js';
import { startRedis, type RedisInstance } from '../e2e/harness/redis.js';
import { manualClock } from '../helpers/clock.js';
import { waitFor } from '../helpers/wait.js';
import { IN_UNIT_RUN, startsServer } from '../helpers/unit-run.js';

const alice = { id: 'alice', password: 'alice-pw' };
const clock = manualClock();
let idp: OidcProviderFixture;
let gw: TestGateway;
let gwRedis: TestGateway;
let redis: RedisInstance;

before(async () => {
  const [s1, s2] = await Promise.all([lateServer(), lateServer()]);
  idp = await startOidcProvider({ redirectUris: [`${s1.url}/oauth2/callback`, `${s2.url}/oauth2/callback`] });
  gw = mountGateway(s1, gatewayOidc(idp, idp.clients.basic, { cookie: { refresh: '1m' } }), { now: clock.now });
  // The unit run starts no redis-server (the Redis test below skips there).
  if (IN_UNIT_RUN) return void (await new Promise((r) => s2.server.close(r)));
  redis = await startRedis();
  gwRedis = mountGateway(s2, gatewayOidc(idp, idp.clients.basic, { sessionStore: 'redis', redisUrl: redis.url }), {
    now: clock.now,
  });
  await waitFor(() => gwRedis.session.store.ready(), { what: 'the Redis session store' });
});

after(async () => {
  await Promise.all([gw?.close(), gwRedis?.close()]);
  await idp?.close();
  await redis?.stop();
});

test('the OpenID provider down: sessions keep working, sign-ins and refreshes get a clear 503, recovery without restart', async () => {
  const signedIn = new TestBrowser();
  await signedIn.login(`${gw.url}/oauth2/start`, alice);
  assert.equal((await signedIn.request(`${gw.url}/oauth2/auth`)).status, 202);
  // A second user is half-way through signing in when the provider goes away.
  const midway = new TestBrowser();
  const { callbackUrl } = await midway.reachCallback(`${gw.url}/oauth2/start`, alice);

  await idp.down();
  try {
    assert.equal(
      (await signedIn.request(`${gw.url}/oauth2/auth`)).status,
      202,
      'an existing session needs no provider',
    );
    const cb = await midway.request(callbackUrl);
    const page = await cb.text();
    assert.equal(cb.status, 503, page);
    assert.match(page, /OpenID provider|PG_AUTHN_UNAVAILABLE/, 'the page says what is wrong');
    // Due for refresh, but its access token is still valid: the failed refresh keeps the session serving.
    clock.advance(61_000);
    assert.equal((await signedIn.request(`${gw.url}/oauth2/auth`)).status, 202);
    // Past the access token's lifetime (the provider's 3600 s) the session truly needs the provider:
    // unavailable (503), not signed out (401).
    clock.advance(3600_000);
    const stale = await signedIn.request(`${gw.url}/oauth2/auth`);
    assert.equal(stale.status, 503, await stale.text());
  } finally {
    await idp.up();
  }
  // Back: the same session refreshes, and new sign-ins work, without restarting anything.
  assert.equal((await signedIn.request(`${gw.url}/oauth2/auth`)).status, 202);
  const fresh = new TestBrowser();
  const { res } = await fresh.login(`${gw.url}/oauth2/start`, alice);
  assert.equal(res.status, 302);
  assert.equal((await fresh.request(`${gw.url}/oauth2/auth`)).status, 202);
});

test(
  'Redis down: the Redis session store fails closed with 503; back up, sign-in works without a restart',
  { skip: startsServer('redis-server') },
  async () => {
    const b = new TestBrowser();
    await b.login(`${gwRedis.url}/oauth2/start`, alice);
    assert.equal((await b.request(`${gwRedis.url}/oauth2/auth`)).status, 202);
    const port = redis.port;
    await redis.stop();
    const down = await b.request(`${gwRedis.url}/oauth2/auth`);
    assert.equal(down.status, 503, 'neither let in (202) nor sent to sign in again (401)');
    assert.equal((await new TestBrowser().request(`${gwRedis.url}/oauth2/auth`)).status, 401, 'no cookie: still 401');
    redis = await startRedis(port);
    await waitFor(() => gwRedis.session.store.ready(), { what: 'the store to reconnect', timeoutMs: 20_000 });
    // This redis-server keeps nothing across a restart (no persistence), so the old session is gone: 401, and a
    // new sign-in works at once.
    await waitFor(async () => (await b.request(`${gwRedis.url}/oauth2/auth`)).status === 401, {
      what: 'the store to answer again',
      timeoutMs: 10_000,
    });
    const again = new TestBrowser();
    await again.login(`${gwRedis.url}/oauth2/start`, alice);
    assert.equal((await again.request(`${gwRedis.url}/oauth2/auth`)).status, 202);
  },
);
