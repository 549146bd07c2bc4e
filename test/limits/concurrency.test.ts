// In-flight limits with an injected clock: route and tenant caps, the bounded FIFO queue, its timeout and withdrawal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../src/errors.js';
import { ConcurrencyLimiter, type Release } from '../../src/limits/concurrency.js';
import { ManualClock } from './manual-clock.js';

const sync = (r: Release | Promise<Release>): Release => {
  assert.equal(typeof r, 'function', 'expected a slot at once');
  return r as Release;
};

test('the route cap holds; a freed slot goes to the first in the queue; beyond the queue, 503 with Retry-After', async () => {
  const clock = new ManualClock();
  const c = new ConcurrencyLimiter({ route: 2, queue: 1, queueTimeout: 3000, status: 503 }, clock);
  const a = sync(c.acquire('t1', undefined));
  sync(c.acquire('t2', undefined));
  const queued = c.acquire('t3', undefined);
  assert.ok(queued instanceof Promise);
  assert.throws(
    () => c.acquire('t4', undefined),
    (e) =>
      e instanceof GatewayError &&
      e.code === 'PG_CONCURRENCY_UNAVAILABLE' &&
      e.status === 503 &&
      e.headers['retry-after'] === '3',
  );
  assert.equal(c.inflight, 2);
  a();
  a(); // a second release changes nothing
  const r = await queued;
  assert.equal(c.inflight, 2);
  assert.equal(c.queued, 0);
  r();
  assert.equal(c.inflight, 1);
});

test('a tenant cap holds one tenant back without holding the others', async () => {
  const clock = new ManualClock();
  const c = new ConcurrencyLimiter({ route: 10, queue: 5, queueTimeout: 1000, status: 429 }, clock);
  const a1 = sync(c.acquire('a', 1));
  const a2 = c.acquire('a', 1);
  assert.ok(a2 instanceof Promise, 'tenant a is at its cap');
  sync(c.acquire('b', 1));
  a1();
  (await a2)();
});

test('the queue timeout refuses with the configured status; a withdrawn waiter leaves the queue', async () => {
  const clock = new ManualClock();
  const c = new ConcurrencyLimiter({ route: 1, queue: 2, queueTimeout: 2000, status: 429 }, clock);
  const held = sync(c.acquire('x', undefined));
  const late = c.acquire('y', undefined) as Promise<Release>;
  let cancel: Release | undefined;
  const gone = c.acquire('z', undefined, (f) => (cancel = f)) as Promise<Release>;
  cancel!();
  await assert.rejects(gone);
  assert.equal(c.queued, 1);
  clock.advance(1999);
  assert.equal(c.queued, 1);
  clock.advance(1);
  await assert.rejects(
    late,
    (e) =>
      e instanceof GatewayError &&
      e.code === 'PG_CONCURRENCY_LIMITED' &&
      e.status === 429 &&
      e.headers['retry-after'] === '2',
  );
  held();
  assert.equal(c.inflight, 0);
});
