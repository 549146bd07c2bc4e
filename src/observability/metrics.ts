// The gateway's own metrics (prom-client); names start with promgate_. The per-request ones are plain counters until a scrape reads them.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { DurationHistogram, RequestCounts } from './request-stats.js';

export interface GatewayMetrics {
  registry: Registry;
  request(route: string, method: string, status: number, tenant: string, seconds: number): void;
  upstreamError(route: string, reason: string): void;
  authFailure(method: string, code: string): void;
  reload(source: string, ok: boolean): void;
  /** Sources (config, auth files) whose last reload was refused: the last good version keeps serving them. */
  failedReloads(): string[];
  upstreamUp(route: string, up: boolean): void;
  cache(kind: string, hit: boolean): void;
  /** A request refused by a limit (query limits, rate, concurrency, circuit). */
  limitRejected(route: string, tenant: string, limit: string): void;
  /** A rate-limit decision made without the shared store (Redis): admitted (fail open) or refused. */
  limitStoreFailure(route: string, admitted: boolean): void;
  upstreamRetry(upstream: string): void;
  /** Read at scrape time: each upstream's circuit state (0 closed, 1 open, 2 half-open). */
  circuitsFrom(read: () => Iterable<readonly [string, number]>): void;
  /** Read at scrape time: requests in flight per route. */
  inflightFrom(read: () => Iterable<readonly [string, number]>): void;
  /** Read at scrape time: connection pools open per route whose upstream is chosen by identity. */
  poolsFrom(read: () => Iterable<readonly [string, number]>): void;
}

export interface MetricsOptions {
  /**
   * Label request metrics with the tenant. Off where anyone may scrape (/metrics on the main port needs no
   * credentials), because the label names every tenant's selector to every caller.
   */
  tenantLabel?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counts = new RequestCounts();
  const tenantLabel = opts.tenantLabel ?? true;
  // Registered but fed only from collect(): the request path never touches prom-client.
  new Counter({
    name: 'promgate_requests_total',
    help: tenantLabel
      ? 'Requests handled, by route, method, HTTP status and tenant.'
      : 'Requests handled, by route, method and HTTP status.',
    labelNames: tenantLabel ? ['route', 'method', 'code', 'tenant'] : ['route', 'method', 'code'],
    registers: [registry],
    collect() {
      counts.flush(this, tenantLabel);
    },
  });
  const duration = new DurationHistogram(
    'promgate_request_duration_seconds',
    'Time from request to the end of the response, by route.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  duration.register(registry);
  const upstreamErrors = new Counter({
    name: 'promgate_upstream_errors_total',
    help: 'Failed upstream calls, by route and reason (unavailable, timeout, reset).',
    labelNames: ['route', 'reason'] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'promgate_auth_failures_total',
    help: 'Refused authentications, by method and error code.',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'promgate_config_reloads_total',
    help: 'Config and auth file reloads, by source and result (success, failure).',
    labelNames: ['source', 'result'] as const,
    registers: [registry],
  });
  const reloadFailures = new Counter({
    name: 'promgate_config_reload_failures_total',
    help: 'Reloads that were refused; the previous version kept serving.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const failing = new Set<string>();
  const lastReload = new Gauge({
    name: 'promgate_config_last_reload_successful',
    help: '1 when the last reload of a source succeeded.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const up = new Gauge({
    name: 'promgate_upstream_up',
    help: 'Upstream reachability as last checked for /-/ready.',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const cacheOps = new Counter({
    name: 'promgate_cache_requests_total',
    help: 'Cache lookups by cache and result.',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
  });
  const rejections = new Counter({
    name: 'promgate_limit_rejections_total',
    help: 'Requests refused by a limit, by route, tenant (where the tenant label is on) and limit (maxQueryRange, rate, concurrency, circuit, ...).',
    labelNames: tenantLabel ? ['route', 'tenant', 'limit'] : ['route', 'limit'],
    registers: [registry],
  });
  const storeFailures = new Counter({
    name: 'promgate_limit_store_failures_total',
    help: 'Rate-limit decisions made without the shared store (Redis unreachable), by route and outcome (admitted: fail open, refused: fail closed).',
    labelNames: ['route', 'outcome'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'promgate_upstream_retries_total',
    help: 'Upstream calls sent again after their connection failed before anything was sent.',
    labelNames: ['upstream'] as const,
    registers: [registry],
  });
  // Both gauges are read from the limiters and breakers when scraped; the request path only moves plain numbers.
  let circuits: () => Iterable<readonly [string, number]> = () => [];
  let inflight: () => Iterable<readonly [string, number]> = () => [];
  let pools: () => Iterable<readonly [string, number]> = () => [];
  new Gauge({
    name: 'promgate_upstream_pools',
    help: 'Connection pools open for upstreams chosen by identity, per route (at most upstream.maxPools).',
    labelNames: ['route'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, n] of pools()) this.labels(route).set(n);
    },
  });
  new Gauge({
    name: 'promgate_circuit_state',
    help: 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open.',
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [upstream, state] of circuits()) this.labels(upstream).set(state);
    },
  });
  new Gauge({
    name: 'promgate_inflight_requests',
    help: 'Requests in flight per route (holding a concurrency slot).',
    labelNames: ['route'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, n] of inflight()) this.labels(route).set(n);
    },
  });

  return {
    registry,
    request(route, method, status, tenant, seconds) {
      counts.inc(route, method, status, tenantLabel ? tenant : '');
      duration.observe(route, seconds);
    },
    upstreamError: (route, reason) => upstreamErrors.labels(route, reason).inc(),
    authFailure: (method, code) => authFailures.labels(method, code).inc(),
    reload(source, ok) {
      reloads.labels(source, ok ? 'success' : 'failure').inc();
      if (!ok) reloadFailures.labels(source).inc();
      lastReload.labels(source).set(ok ? 1 : 0);
      if (ok) failing.delete(source);
      else failing.add(source);
    },
    failedReloads: () => [...failing],
    upstreamUp: (route, isUp) => up.labels(route).set(isUp ? 1 : 0),
    cache: (kind, hit) => cacheOps.labels(kind, hit ? 'hit' : 'miss').inc(),
    limitRejected: (route, tenant, limit) => rejections.inc(tenantLabel ? { route, tenant, limit } : { route, limit }),
    limitStoreFailure: (route, admitted) => storeFailures.labels(route, admitted ? 'admitted' : 'refused').inc(),
    upstreamRetry: (upstream) => retries.labels(upstream).inc(),
    circuitsFrom(read) {
      circuits = read;
    },
    inflightFrom(read) {
      inflight = read;
    },
    poolsFrom(read) {
      pools = read;
    },
  };
}
