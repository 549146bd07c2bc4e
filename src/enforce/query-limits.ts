// Per-tenant query limits, checked on the parsed request (and the enforcer's PromQL facts) before it is forwarded.
import type { QueryLimitsConfig } from '../config/schema-limits.js';
import { GatewayError, type ErrorCode } from '../errors.js';
import type { QueryFacts } from './promql/facts.js';
import { promDuration } from './promql/facts.js';

/** The names used in refusals, in promgate_limit_rejections_total{limit} and in the config. */
export type QueryLimitName =
  'maxPointsPerSeries' | 'minStep' | 'maxQueryRange' | 'maxSelectorRange' | 'maxLookback' | 'maxSeriesRange';

export interface QueryLimitInput {
  /** API path below the route (and its apiPrefix), e.g. /api/v1/query_range. */
  apiPath: string;
  kind: 'query' | 'match';
  /** The value Prometheus will read for a parameter: the form body's first, else the URL's first (Go's FormValue). */
  param(name: string): string | null;
  /** Facts of every query parameter, from the enforcer's parse. */
  facts: readonly QueryFacts[];
  /** Epoch ms. */
  now: number;
}

/** Parameters to set on the forwarded request (every other copy of each is dropped). */
export interface QueryAdjust {
  timeout?: string;
  start?: string;
}

const RANGE_PATHS = new Set(['/api/v1/query_range', '/api/v1/query_exemplars']);
const TIMEOUT_PATHS = new Set(['/api/v1/query', '/api/v1/query_range']);
/** Prometheus' parseTime accepts these two spellings of its minimum and maximum time. */
const MIN_TIME = new Set(['-292273086-05-16T16:47:06Z', '-9223372036854775808']);
const MAX_TIME = new Set(['292277025-08-18T07:12:54.999999999Z', '9223372036854775807']);
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function refuse(code: ErrorCode, limit: QueryLimitName, message: string): GatewayError {
  return new GatewayError(code, `${message} (limit ${limit})`);
}

/** A time parameter as Prometheus reads it (unix seconds or RFC 3339), in epoch ms. */
export function parseTime(name: string, v: string): number {
  if (FLOAT.test(v)) return Number(v) * 1000;
  if (MIN_TIME.has(v)) return -Infinity;
  if (MAX_TIME.has(v)) return Infinity;
  if (RFC3339.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  throw new GatewayError('PG_LIMIT_BAD_TIME', `invalid parameter "${name}": cannot parse "${v}" to a valid timestamp`);
}

/** Human form of a duration in ms, in Prometheus' own notation (30d, 1h30m, 250ms). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return ms > 0 ? 'unbounded' : '-unbounded';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let out = '';
  let rest = Math.round(ms);
  for (const [u, n] of units) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${u}`;
      rest %= n;
    }
  }
  return out;
}

const seconds = (ms: number): string => String(ms / 1000);

/**
 * Checks one request against its effective limits; throws the refusal (its code names the limit), else says
 * which parameters to set. `routeTimeout` is the route's upstream.headersTimeout: Prometheus is never asked to
 * evaluate longer than promgate waits for its answer.
 */
export function checkQueryLimits(
  l: QueryLimitsConfig,
  routeTimeout: number,
  x: QueryLimitInput,
): QueryAdjust | undefined {
  if (x.kind === 'match') return checkWindow(l, x);
  const range = RANGE_PATHS.has(x.apiPath);
  const { start, end } = evaluationWindow(x, range);
  if (x.apiPath === '/api/v1/query_range') checkStep(l, x, start, end);
  if (range && l.maxQueryRange !== undefined && end - start > l.maxQueryRange) {
    throw refuse(
      'PG_LIMIT_QUERY_RANGE',
      'maxQueryRange',
      `the query time range ${formatDuration(end - start)} exceeds the limit of ${formatDuration(l.maxQueryRange)}`,
    );
  }
  checkSelectors(l, x, start, end);
  return TIMEOUT_PATHS.has(x.apiPath) ? timeoutFor(l, routeTimeout, x.param('timeout')) : undefined;
}

/** The times the query is evaluated over: start and end of a range query, else its `time` (default now). */
function evaluationWindow(x: QueryLimitInput, range: boolean): { start: number; end: number } {
  if (!range) {
    const t = x.param('time');
    const at = t === null || t === '' ? x.now : parseTime('time', t);
    return { start: at, end: at };
  }
  const s = x.param('start');
  const e = x.param('end');
  if (s === null || e === null)
    throw new GatewayError('PG_LIMIT_BAD_TIME', `invalid parameter "${s === null ? 'start' : 'end'}": missing`);
  return { start: parseTime('start', s), end: parseTime('end', e) };
}

/** query_range's `step`: parsed as Prometheus does, at least minStep, at most maxPointsPerSeries points. */
function checkStep(l: QueryLimitsConfig, x: QueryLimitInput, start: number, end: number): void {
  const raw = x.param('step') ?? '';
  const step = promDuration(raw);
  if (!(step > 0))
    throw new GatewayError('PG_LIMIT_BAD_TIME', `invalid parameter "step": cannot parse "${raw}" to a valid duration`);
  if (l.minStep !== undefined && step < l.minStep) {
    throw refuse(
      'PG_LIMIT_STEP',
      'minStep',
      `query resolution step ${formatDuration(step)} is below the minimum of ${formatDuration(l.minStep)}`,
    );
  }
  // Prometheus: `end.Sub(start)/step > 11000`, a truncating integer division of durations.
  if (l.maxPointsPerSeries !== undefined && Math.floor((end - start) / step) > l.maxPointsPerSeries) {
    throw refuse(
      'PG_LIMIT_POINTS',
      'maxPointsPerSeries',
      `exceeded maximum resolution of ${l.maxPointsPerSeries.toLocaleString('en-US')} points per timeseries. Try decreasing the query resolution (?step=XX)`,
    );
  }
}

/** What the query's selectors read (from one parse of each query): their longest range and their oldest time. */
function checkSelectors(l: QueryLimitsConfig, x: QueryLimitInput, start: number, end: number): void {
  let maxRange = 0;
  let oldest = Infinity;
  for (const f of x.facts) {
    if (f.maxRange > maxRange) maxRange = f.maxRange;
    oldest = Math.min(oldest, start - f.fromStart, end - f.fromEnd, f.pinned);
  }
  if (l.maxSelectorRange !== undefined && maxRange > l.maxSelectorRange) {
    throw refuse(
      'PG_LIMIT_SELECTOR_RANGE',
      'maxSelectorRange',
      `a range selector or subquery of ${formatDuration(maxRange)} exceeds the limit of ${formatDuration(l.maxSelectorRange)}`,
    );
  }
  if (l.maxLookback === undefined) return;
  // A query with no selector at all (`1+1`) reads nothing; its oldest time is its start.
  const from = Math.min(start, oldest);
  if (from < x.now - l.maxLookback) {
    throw refuse(
      'PG_LIMIT_LOOKBACK',
      'maxLookback',
      `the query reads data from ${formatDuration(x.now - from)} ago, older than the limit of ${formatDuration(l.maxLookback)}`,
    );
  }
}

/** Prometheus' `timeout`: the client's when it is shorter, else the configured one, never above the route's own. */
function timeoutFor(l: QueryLimitsConfig, routeTimeout: number, given: string | null): QueryAdjust | undefined {
  const cap = Math.min(l.queryTimeout ?? Infinity, routeTimeout);
  if (given !== null && given !== '') {
    const asked = promDuration(given);
    // A timeout Prometheus cannot read is its own 400 to give; a shorter one is the client's to keep.
    if (Number.isNaN(asked) || asked <= cap) return undefined;
    return { timeout: seconds(cap) };
  }
  return l.queryTimeout === undefined ? undefined : { timeout: seconds(cap) };
}

/** series, labels and label values: the start..end window and how far back it starts. */
function checkWindow(l: QueryLimitsConfig, x: QueryLimitInput): QueryAdjust | undefined {
  if (x.apiPath === '/federate' || (l.maxSeriesRange === undefined && l.maxLookback === undefined)) return undefined;
  const e = x.param('end');
  const end = e === null || e === '' ? x.now : parseTime('end', e);
  const s = x.param('start');
  if (s === null || s === '') {
    // Prometheus reads an absent start as the beginning of time; give it the oldest start the limits allow.
    const from = Math.max(
      l.maxSeriesRange === undefined ? -Infinity : Math.min(end, x.now) - l.maxSeriesRange,
      l.maxLookback === undefined ? -Infinity : x.now - l.maxLookback,
    );
    return { start: seconds(from) };
  }
  const start = parseTime('start', s);
  if (l.maxSeriesRange !== undefined && end - start > l.maxSeriesRange) {
    throw refuse(
      'PG_LIMIT_SERIES_RANGE',
      'maxSeriesRange',
      `the series time range ${formatDuration(end - start)} exceeds the limit of ${formatDuration(l.maxSeriesRange)}`,
    );
  }
  if (l.maxLookback !== undefined && start < x.now - l.maxLookback) {
    throw refuse(
      'PG_LIMIT_LOOKBACK',
      'maxLookback',
      `the request reads data from ${formatDuration(x.now - start)} ago, older than the limit of ${formatDuration(l.maxLookback)}`,
    );
  }
  return undefined;
}

/** Which query limit a refusal code stands for (metrics). */
export const QUERY_LIMIT_OF_CODE: Readonly<Partial<Record<ErrorCode, QueryLimitName>>> = {
  PG_LIMIT_POINTS: 'maxPointsPerSeries',
  PG_LIMIT_STEP: 'minStep',
  PG_LIMIT_QUERY_RANGE: 'maxQueryRange',
  PG_LIMIT_SELECTOR_RANGE: 'maxSelectorRange',
  PG_LIMIT_LOOKBACK: 'maxLookback',
  PG_LIMIT_SERIES_RANGE: 'maxSeriesRange',
};
