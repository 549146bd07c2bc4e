// The gateway's own metrics (prom-client); names start with promgate_. The per-request ones are plain counters until a scrape reads them.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { DurationHistogram, RequestCounts } from './request-stats.js';

export interface GatewayMetrics {
  registry: Registry;
  request(route: string, method: string, status: number, tenant: string, seconds: number): void;
  upstreamError(route: string, reason: string): void;
  authFailure(method: string, code: string): void;
  reload(source: string, ok: boolean): void;
  upstreamUp(route: string, up: boolean): void;
  cache(kind: string, hit: boolean): void;
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
    help: tenantLabel ? 'Requests handled, by route, method, HTTP status and tenant.' : 'Requests handled, by route, method and HTTP status.',
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
  const lastReload = new Gauge({
    name: 'promgate_config_last_reload_successful',
    help: '1 when the last reload of a source succeeded.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const up = new Gauge({ name: 'promgate_upstream_up', help: 'Upstream reachability as last checked for /-/ready.', labelNames: ['route'] as const, registers: [registry] });
  const cacheOps = new Counter({ name: 'promgate_cache_requests_total', help: 'Cache lookups by cache and result.', labelNames: ['cache', 'result'] as const, registers: [registry] });

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
    },
    upstreamUp: (route, isUp) => up.labels(route).set(isUp ? 1 : 0),
    cache: (kind, hit) => cacheOps.labels(kind, hit ? 'hit' : 'miss').inc(),
  };
}
