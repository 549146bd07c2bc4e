// The circuit breaker with an injected clock: consecutive failures, failure ratio, cool-down, half-open probes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type CircuitState } from '../../src/upstream/breaker.js';
import type { BreakerConfig } from '../../src/config/schema-limits.js';
import { ManualClock } from '../limits/manual-clock.js';

const cfg = (c: Partial<BreakerConfig> = {}): BreakerConfig => ({
  failures: 3,
  window: 10_000,
  minRequests: 10,
  coolDown: 5000,
  halfOpenProbes: 1,
  ...c,
});

test('opens after N consecutive failures; a success in between starts the count again', () => {
  const clock = new ManualClock();
  const moves: string[] = [];
  const b = new CircuitBreaker(cfg(), clock, (from, to) => moves.push(`${from}>${to}`));
  for (let i = 0; i < 2; i++) b.failure(b.permit());
  b.success(b.permit());
  for (let i = 0; i < 2; i++) b.failure(b.permit());
  assert.equal(b.state(), 'closed');
  b.failure(b.permit());
  assert.equal(b.state(), 'open');
  assert.deepEqual(moves, ['closed>open']);
  // Open: every call refused until the cool-down is over, with the time left.
  assert.equal(b.permit(), 5000);
  clock.advance(4000);
  assert.equal(b.permit(), 1000);
  assert.equal(b.retryIn(), 1000);
});

test('half-open after the cool-down: one probe at a time; its success closes, its failure opens again', () => {
  const clock = new ManualClock();
  const b = new CircuitBreaker(cfg({ failures: 1 }), clock);
  b.failure(b.permit());
  clock.advance(5000);
  assert.equal(b.state() as CircuitState, 'half-open', 'readers see it waiting for a probe');
  const probe = b.permit();
  assert.equal(probe, 'probe');
  assert.equal(typeof b.permit(), 'number', 'a second caller waits for the probe');
  b.failure(probe);
  assert.equal(b.state(), 'open');
  clock.advance(5000);
  const p2 = b.permit();
  b.success(p2);
  assert.equal(b.state(), 'closed');
  assert.equal(b.permit(), 'call');
});

test('a cancelled probe hands its slot back without deciding anything', () => {
  const clock = new ManualClock();
  const b = new CircuitBreaker(cfg({ failures: 1 }), clock);
  b.failure(b.permit());
  clock.advance(5000);
  b.cancel(b.permit());
  assert.equal(b.permit(), 'probe');
});

test('failure ratio over the window opens once enough calls were seen, and old calls leave the window', () => {
  const clock = new ManualClock();
  const b = new CircuitBreaker(cfg({ failures: 100, failureRatio: 0.5, minRequests: 10 }), clock);
  for (let i = 0; i < 4; i++) {
    b.success(b.permit());
    b.failure(b.permit());
  }
  assert.equal(b.state(), 'closed', '8 calls: below minRequests');
  clock.advance(11_000); // the first eight leave the window
  for (let i = 0; i < 6; i++) b.success(b.permit());
  for (let i = 0; i < 3; i++) b.failure(b.permit());
  assert.equal(b.state(), 'closed', '3 of 9 in the window');
  b.failure(b.permit());
  assert.equal(b.state(), 'closed', '4 of 10: below the ratio');
  b.failure(b.permit());
  b.failure(b.permit());
  assert.equal(b.state(), 'open', '6 of 12');
});
