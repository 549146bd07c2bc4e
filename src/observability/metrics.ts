// The gateway's own metrics (prom-client); names start with promgate_. Children are cached so the hot path does no label hashing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  request(route: string, method: string, status: number, tenant: string, seconds: number): void;
  upstreamError(route: string, reason: string): void;
  authFailure(method: string, code: string): void;
  reload(source: string, ok: boolean): void;
  upstreamUp(route: string, up: boolean): void;
  cache(kind: string, hit: boolean): void;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'promgate_requests_total',
    help: 'Requests handled, by route, method, HTTP status and tenant.',
    labelNames: ['route', 'method', 'code', 'tenant'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'promgate_request_duration_seconds',
    help: 'Time from request to the end of the response, by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
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

  const reqChildren = new Map<string, { inc(): void }>();
  const durChildren = new Map<string, { observe(v: number): void }>();
  return {
    registry,
    request(route, method, status, tenant, seconds) {
      const key = `${route}\0${method}\0${status}\0${tenant}`;
      let c = reqChildren.get(key);
      if (!c) {
        c = requests.labels(route, method, String(status), tenant);
        // bounded: tenants × routes × statuses is small, but never let a bug grow it without limit
        if (reqChildren.size < 50_000) reqChildren.set(key, c);
      }
      c.inc();
      let d = durChildren.get(route);
      if (!d) durChildren.set(route, (d = duration.labels(route)));
      d.observe(seconds);
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
