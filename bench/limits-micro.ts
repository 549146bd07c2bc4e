// In-process cost of the limiter path per request (admit + release, query-limit check, breaker guard), in µs.
import type { IncomingMessage } from 'node:http';
import { Dispatcher } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { buildLimits, LimitsState } from '../src/limits/limits.js';
import { checkQueryLimits } from '../src/enforce/query-limits.js';
import { scanFacts } from '../src/enforce/promql/facts.js';
import { compileRoute } from '../src/routes/table.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createLogger } from '../src/observability/logger.js';
import { createProxyTrust } from '../src/lib/trusted-proxies.js';
import { GuardedDispatcher } from '../src/upstream/guard.js';
import { CircuitBreaker } from '../src/upstream/breaker.js';
import { RetryPolicy } from '../src/upstream/retry.js';
import { systemClock } from '../src/lib/clock.js';
import type { RequestContext } from '../src/pipeline/runtime.js';
import type { Upstream } from '../src/upstream/pool.js';
import type { Identity } from '../src/authn/identity.js';
import type { Tenant } from '../src/tenancy/tenant.js';

/**
 * Median over `rounds` runs of `n` calls, in µs of this process's CPU time per call: on a shared machine wall
 * time also counts the time other processes held the core.
 */
function micros(n: number, rounds: number, fn: () => void): number {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const d = process.cpuUsage(t0);
    out.push((d.user + d.system) / n);
  }
  return out.sort((a, b) => a - b)[Math.floor(out.length / 2)]!;
}

/** A dispatcher that answers every call at once on undici's controller interface, so only the guard's own work is timed. */
class Instant extends Dispatcher {
  override dispatch(_o: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler): boolean {
    const controller = { abort() {}, pause() {}, resume() {}, paused: false, aborted: false, reason: null };
    const c = controller as unknown as Dispatcher.DispatchController;
    h.onRequestStart?.(c, {});
    h.onResponseStart?.(c, 200, {}, 'OK');
    h.onResponseEnd?.(c, {});
    return true;
  }
}

export interface LimiterCost {
  admit: number;
  query: number;
  guard: number;
}

export function limiterMicros(n = 200_000, rounds = 7): LimiterCost {
  const cfg = loadConfig({
    overrides: {
      routes: [{ name: 'p', upstream: { url: 'http://127.0.0.1:1' } }],
      auth: { anonymous: true },
      limits: {
        query: { maxQueryRange: '31d', maxLookback: '90d', maxSelectorRange: '30d', queryTimeout: '1m' },
        rate: { rate: 1e9, burst: 1e9 },
        concurrency: { route: 10_000, tenant: 10_000 },
      },
    },
  });
  const route = compileRoute(cfg.routes[0]!, {} as Upstream);
  const limits = buildLimits(cfg, [route], {
    logger: createLogger('silent'),
    metrics: createMetrics(),
    trust: createProxyTrust([]),
    limitRule: () => -1,
    state: new LimitsState(),
  });
  const identity: Identity = Object.freeze({
    subject: 'alice',
    user: 'alice',
    groups: [],
    claims: {},
    method: 'basic',
  });
  const tenant: Tenant = Object.freeze({
    unrestricted: false,
    id: '{namespace="a"}',
    constraints: [],
  }) as unknown as Tenant;
  const ctx = {
    req: { socket: { remoteAddress: '127.0.0.1' }, headers: {} } as unknown as IncomingMessage,
    identity,
    tenant,
    apiPath: '/api/v1/query',
  } as unknown as RequestContext;
  const admit = micros(n, rounds, () => {
    limits.admit(route, ctx);
    ctx.release!();
  });
  const facts = [scanFacts('sum(rate(http_requests_total[5m]))')];
  const params: Record<string, string> = { query: 'x', time: String(Date.now() / 1000) };
  const query = micros(n, rounds, () => {
    const l = limits.queryLimits(route, ctx);
    checkQueryLimits(l.config, l.routeTimeout, {
      apiPath: '/api/v1/query',
      kind: 'query',
      param: (k) => params[k] ?? null,
      facts,
      now: l.now,
    });
  });
  const guardCfg = { failures: 5, window: 30_000, minRequests: 20, coolDown: 10_000, halfOpenProbes: 1 };
  const guard = new GuardedDispatcher(
    new Instant(),
    'u',
    new CircuitBreaker(guardCfg, systemClock),
    new RetryPolicy({ attempts: 2, backoff: 100, maxBackoff: 2000, budget: 0.2, minRetries: 3 }, systemClock),
    { clock: systemClock, onRetry: () => {} },
  );
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart() {},
    onResponseData() {},
    onResponseEnd() {},
    onResponseError() {},
  };
  const bare = new Instant();
  const opts = { path: '/', method: 'GET' } as Dispatcher.DispatchOptions;
  const withGuard = micros(n, rounds, () => guard.dispatch(opts, handler));
  const without = micros(n, rounds, () => bare.dispatch(opts, handler));
  return { admit, query, guard: Math.max(0, withGuard - without) };
}
