// Query limits as units: the time facts the enforcer reads off its own parse, and each limit's refusal and its boundary.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../src/errors.js';
import { createPromqlEnforcer, enforceQueryWithFacts } from '../../src/enforce/promql/index.js';
import { promDuration, scanFacts, type QueryFacts } from '../../src/enforce/promql/facts.js';
import { checkQueryLimits, parseTime, type QueryLimitInput } from '../../src/enforce/query-limits.js';
import type { QueryLimitsConfig } from '../../src/config/schema-limits.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';

const T: RestrictedTenant = Object.freeze({
  unrestricted: false,
  id: 'a',
  constraints: Object.freeze([{ label: 'namespace', kind: 'values', values: ['a'] }]),
}) as RestrictedTenant;
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('PromQL time facts', () => {
  const cases: [string, Partial<QueryFacts>][] = [
    ['up', { maxRange: 0, fromStart: 0 }],
    ['rate(x[5m])', { maxRange: 5 * M, fromStart: 5 * M }],
    ['rate(x[90d])', { maxRange: 90 * D, fromStart: 90 * D }],
    ['x[1y2w]', { maxRange: 365 * D + 14 * D }],
    ['x[300]', { maxRange: 300 * S }],
    ['rate(x[5m] offset 1h)', { maxRange: 5 * M, fromStart: 65 * M }],
    ['rate(x[5m] offset -1h)', { fromStart: 5 * M - H }],
    ['max_over_time(rate(x[5m])[1h:1m])', { maxRange: H, fromStart: H + 5 * M }],
    ['max_over_time(x[20d:1h] offset 50d)', { maxRange: 20 * D, fromStart: 70 * D }],
    ['max_over_time(up[1d:] offset 1d) + rate(y[2d])', { maxRange: 2 * D, fromStart: 2 * D }],
    // @ pins the evaluation time; offsets written next to it still move it, outer subqueries do not.
    ['x @ 1000 offset 1h', { pinned: 1000 * S - H, fromStart: -Infinity }],
    ['x offset 1h @ 1000', { pinned: 1000 * S - H }],
    ['max_over_time((x @ 1000)[1h:])', { pinned: 1000 * S, maxRange: H }],
    ['rate(x[5m] @ end())', { fromEnd: 5 * M, fromStart: -Infinity }],
    ['x @ start() offset 1w', { fromStart: 7 * D }],
  ];
  for (const [q, want] of cases) {
    test(q, () => {
      const f = enforceQueryWithFacts(q, T).facts;
      for (const [k, v] of Object.entries(want)) assert.equal(f[k as keyof QueryFacts], v, `${q}: ${k}`);
      assert.deepEqual(scanFacts(q), f, 'the unrestricted scan sees the same facts');
    });
  }

  test('a duration promgate cannot evaluate counts as unbounded', () => {
    assert.equal(promDuration('5m'), 5 * M);
    assert.equal(promDuration('1h30m'), 90 * M);
    assert.equal(promDuration('1.5'), 1500);
    assert.ok(Number.isNaN(promDuration('5x')));
    assert.equal(enforceQueryWithFacts('x[5m*2]', T).facts.maxRange, 10 * M);
  });

  test('the cached enforcer hands out the facts with a hit, without parsing again', () => {
    const e = createPromqlEnforcer();
    const a: QueryFacts[] = [];
    const b: QueryFacts[] = [];
    const q1 = e.query('rate(x[7d])', T, a);
    const q2 = e.query('rate(x[7d])', T, b);
    assert.equal(q1, q2);
    assert.equal(a[0], b[0], 'the second call returns the cached facts object');
    assert.equal(a[0]!.maxRange, 7 * D);
  });
});

const NOW = 1_700_000_000_000;
const L = (c: Partial<QueryLimitsConfig>): QueryLimitsConfig => ({ maxPointsPerSeries: 11000, ...c });
function input(
  apiPath: string,
  params: Record<string, string>,
  queries: string[] = [],
  kind: 'query' | 'match' = 'query',
): QueryLimitInput {
  return { apiPath, kind, param: (n) => params[n] ?? null, facts: queries.map((q) => scanFacts(q)), now: NOW };
}
const sec = (ms: number): string => String(ms / 1000);

function refused(fn: () => unknown, code: string, status: number): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    return true;
  });
}

describe('query limits', () => {
  const range = (startAgo: number, endAgo: number, step: string) => ({
    start: sec(NOW - startAgo),
    end: sec(NOW - endAgo),
    step,
  });

  test("points per series: Prometheus' own rule and wording, 400", () => {
    refused(
      () => checkQueryLimits(L({}), 120_000, input('/api/v1/query_range', range(D, 0, '1'), ['up'])),
      'PG_LIMIT_POINTS',
      400,
    );
    // 11,000 points exactly pass, as in Prometheus (`> 11000`).
    assert.equal(
      checkQueryLimits(L({}), 120_000, input('/api/v1/query_range', range(11000 * S, 0, '1'), ['up'])),
      undefined,
    );
    refused(
      () => checkQueryLimits(L({}), 120_000, input('/api/v1/query_range', range(11001 * S, 0, '1'), ['up'])),
      'PG_LIMIT_POINTS',
      400,
    );
    try {
      checkQueryLimits(L({}), 120_000, input('/api/v1/query_range', range(D, 0, '1s'), ['up']));
    } catch (e) {
      assert.match((e as Error).message, /exceeded maximum resolution of 11,000 points per timeseries/);
    }
  });

  test('query range, selector range, lookback and step each refuse with their own code (422)', () => {
    const l = L({ maxQueryRange: 7 * D, maxSelectorRange: 30 * D, maxLookback: 60 * D, minStep: 10 * S });
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query_range', range(30 * D, 0, '1h'), ['up'])),
      'PG_LIMIT_QUERY_RANGE',
      422,
    );
    assert.equal(checkQueryLimits(l, 120_000, input('/api/v1/query_range', range(7 * D, 0, '1h'), ['up'])), undefined);
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query', {}, ['rate(x[90d])'])),
      'PG_LIMIT_SELECTOR_RANGE',
      422,
    );
    assert.equal(checkQueryLimits(l, 120_000, input('/api/v1/query', {}, ['rate(x[30d])'])), undefined);
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query', {}, ['max_over_time(up[20d:1h] offset 45d)'])),
      'PG_LIMIT_LOOKBACK',
      422,
    );
    assert.equal(
      checkQueryLimits(l, 120_000, input('/api/v1/query', {}, ['max_over_time(up[20d:1h] offset 40d)'])),
      undefined,
    );
    // The oldest time counts from the range's start, and a pinned @ reaches its own absolute time.
    refused(
      () =>
        checkQueryLimits(l, 120_000, input('/api/v1/query_range', range(7 * D, 0, '1h'), ['rate(x[30d] offset 25d)'])),
      'PG_LIMIT_LOOKBACK',
      422,
    );
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query', {}, [`x @ ${(NOW - 61 * D) / 1000}`])),
      'PG_LIMIT_LOOKBACK',
      422,
    );
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query', { time: sec(NOW - 61 * D) }, ['up'])),
      'PG_LIMIT_LOOKBACK',
      422,
    );
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query_range', range(H, 0, '5'), ['up'])),
      'PG_LIMIT_STEP',
      422,
    );
  });

  test('several queries in one request: the worst one decides', () => {
    const l = L({ maxSelectorRange: D });
    refused(
      () => checkQueryLimits(l, 120_000, input('/api/v1/query', {}, ['rate(x[5m])', 'rate(x[2d])'])),
      'PG_LIMIT_SELECTOR_RANGE',
      422,
    );
  });

  test("timeout: the configured one is sent, a shorter client one kept, a longer one cut, never above the route's", () => {
    const l = L({ queryTimeout: 30 * S });
    assert.deepEqual(checkQueryLimits(l, 120_000, input('/api/v1/query', {}, ['up'])), { timeout: '30' });
    assert.equal(checkQueryLimits(l, 120_000, input('/api/v1/query', { timeout: '10s' }, ['up'])), undefined);
    assert.deepEqual(checkQueryLimits(l, 120_000, input('/api/v1/query', { timeout: '5m' }, ['up'])), {
      timeout: '30',
    });
    assert.deepEqual(
      checkQueryLimits(L({ queryTimeout: 10 * M }), 120_000, input('/api/v1/query', {}, ['up'])),
      { timeout: '120' },
      'the route waits 2m for headers: no longer',
    );
    assert.deepEqual(checkQueryLimits(L({}), 120_000, input('/api/v1/query', { timeout: '1h' }, ['up'])), {
      timeout: '120',
    });
    assert.equal(
      checkQueryLimits(L({}), 120_000, input('/api/v1/query', {}, ['up'])),
      undefined,
      'nothing configured, nothing asked: nothing sent',
    );
  });

  test('series and labels windows: refused above the window, given a start when they have none', () => {
    const l = L({ maxSeriesRange: 7 * D });
    refused(
      () =>
        checkQueryLimits(
          l,
          120_000,
          input('/api/v1/series', { start: sec(NOW - 365 * D), end: sec(NOW) }, [], 'match'),
        ),
      'PG_LIMIT_SERIES_RANGE',
      422,
    );
    assert.equal(
      checkQueryLimits(l, 120_000, input('/api/v1/labels', { start: sec(NOW - 6 * D), end: sec(NOW) }, [], 'match')),
      undefined,
    );
    assert.deepEqual(checkQueryLimits(l, 120_000, input('/api/v1/label/job/values', {}, [], 'match')), {
      start: sec(NOW - 7 * D),
    });
    assert.equal(checkQueryLimits(l, 120_000, input('/federate', {}, [], 'match')), undefined);
  });

  test('times as Prometheus reads them; nonsense is a 400', () => {
    assert.equal(parseTime('t', '1700000000.5'), 1_700_000_000_500);
    assert.equal(parseTime('t', '2023-11-14T22:13:20Z'), 1_700_000_000_000);
    refused(() => parseTime('start', 'yesterday'), 'PG_LIMIT_BAD_TIME', 400);
    refused(
      () => checkQueryLimits(L({}), 120_000, input('/api/v1/query_range', { start: '1', end: '2', step: 'x' }, ['up'])),
      'PG_LIMIT_BAD_TIME',
      400,
    );
  });
});
