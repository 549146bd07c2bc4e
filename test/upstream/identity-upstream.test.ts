// The identity router's pools: bounded by maxPools, and an evicted pool closes only after the requests on it finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStub } from '../helpers/upstream-stub.js';
import { createUpstream, type Upstream } from '../../src/upstream/pool.js';
import { createUpstreamRouter } from '../../src/upstream/identity-upstream.js';
import { configSchema } from '../../src/config/schema.js';
import type { Identity } from '../../src/authn/identity.js';

const who = (user: string): Identity => ({ subject: user, user, groups: [], claims: {}, method: 'jwt' });

test('an evicted pool finishes the request it carries, then closes; the router never holds more than maxPools', async () => {
  let release: (() => void) | undefined;
  const held = new Promise<void>((r) => (release = r));
  let arrived: () => void = () => undefined;
  const started = new Promise<void>((r) => (arrived = r));
  const stub = await startStub((req, res) => {
    if (req.url?.startsWith('/a/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part-');
      arrived();
      void held.then(() => res.end('end'));
    } else res.end('ok');
  });
  const cfg = configSchema.parse({
    routes: [{ upstream: { url: `${stub.url}/{{ user }}/`, maxPools: 1, type: 'http' } }],
  }).routes[0]!.upstream;
  const made: Upstream[] = [];
  const router = createUpstreamRouter(cfg, (url) => {
    const up = createUpstream({ ...cfg, url });
    made.push(up);
    return up;
  });
  try {
    const a = router.resolve(who('a'));
    assert.equal(a.basePath, '/a');
    const slow = a.dispatcher.request({ path: `${a.basePath}/x`, method: 'GET' });
    await started;
    // b evicts a while a's answer is still streaming.
    const b = router.resolve(who('b'));
    assert.notEqual(a, b);
    assert.equal(router.size, 1);
    assert.equal(router.resolve(who('b')), b, 'a resolved upstream is reused');
    release!();
    const r = await slow;
    assert.equal(await r.body.text(), 'part-end');
    // a is closed now: a new request on it is refused by undici, while b still works.
    await assert.rejects(a.dispatcher.request({ path: '/a/y', method: 'GET' }), /closed|destroyed/i);
    const ok = await b.dispatcher.request({ path: '/b/', method: 'GET' });
    assert.equal(await ok.body.text(), 'ok');
    // Control: the stub answers directly, so the refusal above came from the closed pool.
    assert.equal(await (await request(`${stub.url}/a/z`)).statusCode, 200);
  } finally {
    release?.();
    await router.close();
    await stub.close();
  }
  assert.equal(made.length, 2);
});
