// The bench's request paths: promgate gets the tenant's query, direct and bare get the same query already rewritten.
import { enforceQuery } from '../src/enforce/promql/index.js';
import type { RestrictedTenant } from '../src/tenancy/tenant.js';
import { TENANT_NS } from './fixtures.js';

export const TENANT: RestrictedTenant = {
  unrestricted: false,
  id: TENANT_NS,
  constraints: [{ label: 'namespace', kind: 'values', values: [TENANT_NS] }],
};

/** Request paths for one workload: what promgate receives and what Prometheus must end up answering. */
export interface Paths {
  promgate: string[];
  upstream: string[];
}

const qs = (params: Record<string, string>): string => new URLSearchParams(params).toString();

/** Instant or range query paths for a list of tenant queries; `rewrite: false` for unrestricted callers. */
export function queryPaths(
  queries: readonly string[],
  range?: { start: number; end: number; step: number },
  rewrite = true,
): Paths {
  const path = range ? '/api/v1/query_range' : '/api/v1/query';
  const extra: Record<string, string> = range
    ? { start: String(range.start), end: String(range.end), step: String(range.step) }
    : {};
  const make = (q: string) => `${path}?${qs({ query: q, ...extra })}`;
  return {
    promgate: queries.map(make),
    upstream: queries.map((q) => make(rewrite ? enforceQuery(q, TENANT) : q)),
  };
}

/** Scenarios a/b/c/g: a cheap instant query answered with one series. */
export const CHEAP_QUERY = 'tenant_info';

/**
 * promgate coalesces identical in-flight requests of a tenant, which would hide its per-request cost in the
 * overhead scenarios (a–d): there every request asks for a different evaluation time (or range), the same
 * query otherwise, so rewrite caches still hit but no two requests in flight are identical.
 */
export function timeVariants(query: string, n: number, range?: { seconds: number; step: number }): Paths {
  const out: Paths = { promgate: [], upstream: [] };
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i++) {
    // Millisecond shifts: the same data and the same work for Prometheus, a different URL for every request.
    const t = +(now - i / 1000).toFixed(3);
    const p = range
      ? queryPaths([query], { start: t - range.seconds, end: t, step: range.step })
      : queryPathsAt([query], t);
    out.promgate.push(...p.promgate);
    out.upstream.push(...p.upstream);
  }
  return out;
}

function queryPathsAt(queries: readonly string[], time: number): Paths {
  const make = (q: string) => `/api/v1/query?${qs({ query: q, time: String(time) })}`;
  return { promgate: queries.map(make), upstream: queries.map((q) => make(enforceQuery(q, TENANT))) };
}

/** Scenario d: a dashboard panel over the bench metric. */
export const DASHBOARD_QUERY = 'sum by (namespace) (rate(bench_series[1m]))';

/** Scenario i: one dashboard's ten panels. */
export const DASHBOARD_PANELS = [
  'sum by (namespace) (rate(bench_series[1m]))',
  'sum by (pod) (bench_series)',
  'max by (namespace) (bench_series)',
  'avg(bench_series)',
  'count by (pod) (bench_series)',
  'topk(5, bench_series)',
  'quantile(0.9, bench_series)',
  'sum by (namespace) (rate(http_requests_total[1m]))',
  'sum(rate(http_requests_total{code="500"}[1m])) / sum(rate(http_requests_total[1m]))',
  'histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket[1m])))',
];

/** A dashboard's time range: the last `seconds`, aligned to the step as Grafana does. */
export function dashboardRange(seconds: number, step: number): { start: number; end: number; step: number } {
  const end = Math.floor(Date.now() / 1000 / step) * step;
  return { start: end - seconds, end, step };
}

// Seeded PRNG (mulberry32) so every run sends the same queries.
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METRICS = [
  'http_requests_total',
  'container_cpu_usage_seconds_total',
  'node_network_receive_bytes_total',
  'grpc_server_handled_total',
];
const LABELS = ['job', 'instance', 'pod', 'container', 'handler', 'code', 'service'];

/**
 * Scenario e: `count` distinct queries of about 300 characters, each unlike every other (rewrite-cache
 * misses). Metric names carry a random suffix, so Prometheus answers fast and the proxy's share shows.
 */
export function distinctQueries(count: number, seed: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const id = (): string => Math.floor(r() * 36 ** 6).toString(36);
  const sel = (): string => `${pick(METRICS)}_${id()}{${pick(LABELS)}="${id()}", ${pick(LABELS)}=~"${id()}.*"}`;
  const pieces = [
    () => `sum by (${pick(LABELS)}) (rate(${sel()}[5m]))`,
    () => `histogram_quantile(0.9, sum by (le) (rate(${sel()}[1m])))`,
    () => `max_over_time(${sel()}[10m])`,
    () => `(${sel()} or vector(0))`,
  ];
  const seen = new Set<string>();
  while (seen.size < count) {
    let q = pick(pieces)();
    while (q.length < 270) q += ` ${pick(['+', '/', '*', 'and', 'or'])} ${pick(pieces)()}`;
    seen.add(q);
  }
  return [...seen];
}
