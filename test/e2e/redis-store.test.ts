// Redis sessions shared by two gateway replicas: login on one works on the other, one refresh for both, sign-out ends it everywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { spawnProc, type Proc } from './harness/procs.js';
import { freePort } from './harness/ports.js';
import { waitFor } from '../helpers/wait.js';
import {
  startOidcProvider,
  lateServer,
  mountGateway,
  gatewayOidc,
  TestBrowser,
  type OidcProviderFixture,
  type TestGateway,
} from './harness/oidc-provider.js';
import { manualClock } from '../helpers/clock.js';

let redis: Proc;
let redisUrl: string;
let idp: OidcProviderFixture;
let gw1: TestGateway;
let gw2: TestGateway;
const alice = { id: 'alice', password: 'alice-pw' };
const PREFIX = 'pgtest:session:';
/** Both replicas' session clock: moved past cookie-refresh instead of sleeping through it. */
const clock = manualClock();

before(async () => {
  const port = await freePort();
  redis = spawnProc('redis', 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  redisUrl = `redis://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const c = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } finally {
        c.disconnect();
      }
    },
    { what: 'redis-server', procs: [redis] },
  );
  const [s1, s2] = await Promise.all([lateServer(), lateServer()]);
  idp = await startOidcProvider({ redirectUris: [`${s1!.url}/oauth2/callback`, `${s2!.url}/oauth2/callback`] });
  const secret = randomBytes(32).toString('base64');
  const extra = {
    sessionStore: 'redis' as const,
    redisUrl,
    redisKeyPrefix: PREFIX,
    setXAuthRequest: true,
    cookie: { refresh: '1s' },
  };
  gw1 = mountGateway(s1!, gatewayOidc(idp, idp.clients.basic, extra, secret), { now: clock.now });
  gw2 = mountGateway(s2!, gatewayOidc(idp, idp.clients.basic, extra, secret), { now: clock.now });
  await waitFor(() => gw1.session.store.ready() && gw2.session.store.ready(), { what: 'gateways connected to redis' });
});

after(async () => {
  await Promise.all([gw1?.close(), gw2?.close()]);
  await idp?.close();
  await redis?.stop();
});

test('the cookie holds only a ticket; Redis holds ciphertext it cannot read alone', async () => {
  const b = new TestBrowser();
  const { res } = await b.login(`${gw1.url}/oauth2/start`, alice);
  assert.equal(res.status, 302);
  const cookie = b.jar.get('_oauth2_proxy')!;
  assert.ok(cookie.length < 200, `ticket cookie is small (${cookie.length})`);
  const c = new Redis(redisUrl);
  try {
    const keys = (await c.keys(`${PREFIX}*`)).filter((k) => !k.includes(':lock:'));
    assert.ok(keys.length >= 1);
    for (const k of keys) {
      const v = (await c.get(k))!;
      assert.doesNotMatch(
        Buffer.from(v, 'base64url').toString('latin1'),
        /alice|eyJ/,
        'no plaintext claims or tokens in Redis',
      );
      const ttl = await c.pttl(k);
      assert.ok(ttl > 0 && ttl <= 168 * 3_600_000, 'TTL = cookie-expire');
    }
  } finally {
    c.disconnect();
  }
});

test('a session created on one replica works on the other; one refresh serves both; sign-out on one ends it on both', async () => {
  const b = new TestBrowser();
  await b.login(`${gw1.url}/oauth2/start`, alice);
  const a2 = await b.request(`${gw2.url}/oauth2/auth`);
  assert.equal(a2.status, 202);
  assert.equal(a2.headers.get('x-auth-request-user'), 'alice');

  clock.advance(1100);
  const before = idp.tokenRequests('refresh_token');
  const cookie = b.jar.header(gw1.url);
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => fetch(`${(i % 2 ? gw1 : gw2).url}/oauth2/auth`, { headers: { cookie } })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(10).fill(202),
  );
  assert.equal(idp.tokenRequests('refresh_token') - before, 1, 'one refresh across both replicas (Redis lock)');

  const stale = b.clone();
  const out = await b.request(`${gw2.url}/oauth2/sign_out`);
  assert.equal(out.status, 302);
  assert.equal(
    (await stale.request(`${gw1.url}/oauth2/auth`)).status,
    401,
    'the old cookie is dead on the other replica too',
  );
  assert.equal((await stale.request(`${gw2.url}/oauth2/userinfo`)).status, 401);
});

test('altered ticket cookies are refused', async () => {
  const b = new TestBrowser();
  await b.login(`${gw1.url}/oauth2/start`, alice);
  const v = b.jar.get('_oauth2_proxy')!;
  const t = new TestBrowser();
  t.jar.set('_oauth2_proxy', v.slice(0, -3) + (v.endsWith('AAA') ? 'BBB' : 'AAA'), gw1.url);
  assert.equal((await t.request(`${gw1.url}/oauth2/auth`)).status, 401);
  assert.equal((await b.request(`${gw1.url}/ready`)).status, 200);
});
