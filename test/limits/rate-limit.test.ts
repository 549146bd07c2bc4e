// Token buckets with an injected clock: burst, refill at the configured rate, costs, Retry-After, and the store-down choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../../src/errors.js';
import { MemoryBuckets, RateLimiter, type BucketStore } from '../../src/limits/rate-limit.js';
import { clientAddress } from '../../src/limits/client-address.js';
import { createProxyTrust } from '../../src/lib/trusted-proxies.js';
import { createLogger } from '../../src/observability/logger.js';
import { ManualClock } from './manual-clock.js';

const logger = createLogger('silent');

function limiter(store: BucketStore, failOpen = true, costs: Record<string, number> = {}) {
  const failures: boolean[] = [];
  const l = new RateLimiter('r', store, failOpen, costs, {
    logger,
    storeFailure: (_r, admitted) => failures.push(admitted),
  });
  return { l, failures };
}

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof GatewayError);
    return e;
  }
  assert.fail('expected a refusal');
}

test('a burst passes, the next request is refused with 429 and Retry-After, and tokens come back at the rate', () => {
  const clock = new ManualClock();
  const { l } = limiter(new MemoryBuckets(clock));
  const b = { rate: 2, burst: 3 };
  for (let i = 0; i < 3; i++) assert.equal(l.admit('alice', b, '/api/v1/query'), undefined);
  const e = refusal(() => l.admit('alice', b, '/api/v1/query'));
  assert.equal(e.code, 'PG_RATE_LIMITED');
  assert.equal(e.status, 429);
  assert.equal(e.errorType, 'too_many_requests');
  assert.equal(e.headers['retry-after'], '1');
  // Another identity has its own bucket.
  assert.equal(l.admit('bob', b, '/api/v1/query'), undefined);
  // 2 tokens per second: after 499 ms still nothing, after 500 ms exactly one.
  clock.advance(499);
  refusal(() => l.admit('alice', b, '/api/v1/query'));
  clock.advance(1);
  assert.equal(l.admit('alice', b, '/api/v1/query'), undefined);
  refusal(() => l.admit('alice', b, '/api/v1/query'));
  // Idle for long: the bucket holds at most the burst.
  clock.advance(60_000);
  for (let i = 0; i < 3; i++) l.admit('alice', b, '/api/v1/query');
  refusal(() => l.admit('alice', b, '/api/v1/query'));
});

test('an endpoint cost takes that many tokens; Retry-After says when it could be paid', () => {
  const clock = new ManualClock();
  const { l } = limiter(new MemoryBuckets(clock), true, { '/api/v1/query_range': 4 });
  const b = { rate: 0.5, burst: 5 };
  l.admit('a', b, '/api/v1/query_range');
  const e = refusal(() => l.admit('a', b, '/api/v1/query_range'));
  assert.equal(e.headers['retry-after'], '6', '3 tokens missing at 0.5/s');
  assert.equal(l.admit('a', b, '/api/v1/query'), undefined, 'the last token pays a cost-1 request');
});

test('the shared store down: failOpen admits and counts, fail closed refuses with 503; both recover when it answers', async () => {
  let down = true;
  const store: BucketStore = {
    kind: 'redis',
    take: () => (down ? Promise.reject(new Error('connection refused')) : Promise.resolve(0)),
  };
  const open = limiter(store, true);
  const closed = limiter(store, false);
  const b = { rate: 1, burst: 1 };
  await open.l.admit('a', b, undefined);
  await assert.rejects(
    async () => closed.l.admit('a', b, undefined),
    (e) => e instanceof GatewayError && e.code === 'PG_RATE_LIMIT_UNAVAILABLE' && e.status === 503,
  );
  assert.deepEqual(open.failures, [true]);
  assert.deepEqual(closed.failures, [false]);
  down = false;
  await open.l.admit('a', b, undefined);
  await closed.l.admit('a', b, undefined);
  assert.equal(open.failures.length + closed.failures.length, 2, 'no failure counted once it answers');
});

test('memory buckets stay bounded: refilled buckets are dropped first', () => {
  const clock = new ManualClock();
  const m = new MemoryBuckets(clock, 100);
  const b = { rate: 1, burst: 1 };
  for (let i = 0; i < 100; i++) m.take(`k${i}`, b, 1);
  clock.advance(2000);
  m.take('new', b, 1);
  assert.equal(m.size, 1);
  for (let i = 0; i < 300; i++) m.take(`x${i}`, b, 1);
  assert.ok(m.size <= 100);
});

test('client address: X-Forwarded-For only through trusted proxies, read from the right', () => {
  const req = (remote: string, xff?: string) =>
    ({
      socket: { remoteAddress: remote },
      headers: xff ? { 'x-forwarded-for': xff } : {},
    }) as unknown as IncomingMessage;
  const none = createProxyTrust([]);
  const lb = createProxyTrust(['10.0.0.0/8']);
  assert.equal(
    clientAddress(req('203.0.113.9', '1.2.3.4'), none),
    '203.0.113.9',
    'an untrusted peer cannot pick its bucket',
  );
  assert.equal(clientAddress(req('10.0.0.1', '1.2.3.4'), lb), '1.2.3.4');
  assert.equal(
    clientAddress(req('10.0.0.1', '6.6.6.6, 1.2.3.4, 10.0.0.2'), lb),
    '1.2.3.4',
    'entries the client wrote before the first untrusted hop are ignored',
  );
  assert.equal(clientAddress(req('10.0.0.1'), lb), '10.0.0.1');
});
