// The hot-path request counters and duration histogram render exactly what prom-client's own classes render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { DurationHistogram, RequestCounts } from '../../src/observability/request-stats.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

test('the duration histogram renders as a prom-client Histogram fed the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const h = new DurationHistogram('x_seconds', 'help text', BUCKETS);
  h.register(ours);
  const ref = new Histogram({
    name: 'x_seconds',
    help: 'help text',
    labelNames: ['route'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  for (const [route, v] of [
    ['a', 0.0005],
    ['a', 0.001],
    ['a', 0.05],
    ['b', 3],
    ['a', 0.5],
    ['b', 0.01],
  ] as const) {
    h.observe(route, v);
    ref.labels(route).observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('request counts reach the counter at scrape time, once', async () => {
  const registry = new Registry();
  const counts = new RequestCounts(3);
  new Counter({
    name: 'r_total',
    help: 'h',
    labelNames: ['route', 'method', 'code', 'tenant'],
    registers: [registry],
    collect() {
      counts.flush(this);
    },
  });
  for (let i = 0; i < 5; i++) counts.inc('r1', 'GET', 200, 't1');
  counts.inc('r1', 'POST', 400, 't2');
  let text = await registry.metrics();
  assert.match(text, /r_total\{route="r1",method="GET",code="200",tenant="t1"\} 5/);
  assert.match(text, /r_total\{route="r1",method="POST",code="400",tenant="t2"\} 1/);
  counts.inc('r1', 'GET', 200, 't1');
  text = await registry.metrics();
  assert.match(text, /tenant="t1"\} 6/, 'a second scrape adds only what happened since the first');

  // Past the cap (3 cells here), new tenants are counted together, never under another tenant's labels.
  counts.inc('r1', 'GET', 200, 't3');
  counts.inc('r1', 'GET', 200, 't4');
  counts.inc('r1', 'GET', 200, 't5');
  text = await registry.metrics();
  assert.match(text, /tenant="t1"\} 6/);
  assert.match(text, /tenant="t3"\} 1/);
  assert.doesNotMatch(text, /tenant="t4"|tenant="t5"/);
  assert.match(text, /r_total\{route="r1",method="GET",code="200",tenant="_overflow"\} 2/);
});
