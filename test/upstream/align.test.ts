// Time alignment of query and query_range parameters for the results cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignParams, parseStepParam, parseTimeParam } from '../../src/upstream/align.js';

test('time parameters: unix seconds and RFC 3339, nothing else', () => {
  assert.equal(parseTimeParam('1700000000.25'), 1700000000.25);
  assert.equal(parseTimeParam('2023-11-14T22:13:20Z'), 1700000000);
  assert.equal(parseTimeParam('2023-11-14T22:13:20.5+01:00'), 1699996400.5);
  for (const bad of ['', 'now', '2023-11-14', '9999-12-31T23:59:59Z junk'])
    assert.equal(parseTimeParam(bad), undefined, bad);
});

test('steps: float seconds and Prometheus durations, positive only', () => {
  assert.equal(parseStepParam('15'), 15);
  assert.equal(parseStepParam('0.5'), 0.5);
  assert.equal(parseStepParam('1m30s'), 90);
  assert.equal(parseStepParam('250ms'), 0.25);
  for (const bad of ['', '0', '-15', '1x', 's', '1.5m']) assert.equal(parseStepParam(bad), undefined, bad);
});

test('an instant query is aligned down to the window; no time means now', () => {
  assert.equal(alignParams('query', 'query=up&time=1700000007.9', 0, 5000), 'query=up&time=1700000005');
  assert.equal(alignParams('query', 'query=up', 1700000012345, 5000), 'query=up&time=1700000010');
  assert.equal(
    alignParams('query', 'time=1700000001&query=up', 0, 0),
    'time=1700000001&query=up',
    'no window: the time is kept',
  );
  // Other parameters ride along untouched.
  assert.equal(
    alignParams('query', 'query=up&time=1700000007&timeout=5s&stats=all', 0, 5000),
    'query=up&time=1700000005&timeout=5s&stats=all',
  );
});

test('a range query is aligned to its step', () => {
  assert.equal(
    alignParams('query_range', 'query=up&start=1700000007&end=1700000307&step=15', 0, 0),
    'query=up&start=1699999995&end=1700000295&step=15',
  );
  assert.equal(
    alignParams('query_range', 'query=up&start=2023-11-14T22:13:20Z&end=2023-11-14T22:18:20Z&step=1m', 0, 0),
    'query=up&start=1699999980&end=1700000280&step=60',
  );
  assert.equal(
    alignParams('query_range', 'query=up&start=1700000000.2&end=1700000001.3&step=0.5', 0, 0),
    'query=up&start=1700000000&end=1700000001&step=0.5',
  );
});

test('what is not cached: repeated or unreadable parameters, no query (Prometheus reports those itself)', () => {
  for (const form of ['query=up&query=down', 'query=up&time=1&time=2', 'time=1', 'query=up&time=yesterday']) {
    assert.equal(alignParams('query', form, 0, 5000), undefined, form);
  }
  for (const form of [
    'query=up&start=1&end=2',
    'query=up&start=1&end=2&step=0',
    'query=up&end=2&step=1',
    'query=up&start=x&end=2&step=1',
  ]) {
    assert.equal(alignParams('query_range', form, 0, 0), undefined, form);
  }
});
