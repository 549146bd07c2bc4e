// How a request's limits are put together: global defaults, then the route's overrides, then the caller's tenant rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../../src/config/load.js';
import { buildLimits, LimitsState } from '../../src/limits/limits.js';
import { compileRoute } from '../../src/routes/table.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { createProxyTrust } from '../../src/lib/trusted-proxies.js';
import { createTenantResolver } from '../../src/tenancy/policy.js';
import { GatewayError } from '../../src/errors.js';
import type { Identity } from '../../src/authn/identity.js';
import type { RequestContext } from '../../src/pipeline/runtime.js';
import type { Upstream } from '../../src/upstream/pool.js';
import { ManualClock } from './manual-clock.js';

const cfg = loadConfig({
  overrides: {
    routes: [
      { name: 'a', prefix: '/a', upstream: { url: 'http://127.0.0.1:1' } },
      { name: 'b', prefix: '/b', upstream: { url: 'http://127.0.0.1:1' } },
    ],
    auth: { anonymous: true },
    tenants: {
      rules: [
        {
          match: { users: ['batch'] },
          labels: { namespace: 'batch' },
          limits: { rate: { rate: 1, burst: 1 }, query: { maxQueryRange: '1d' } },
        },
        { match: { users: ['*'] }, labels: { namespace: 'x' } },
      ],
    },
    limits: {
      query: { maxQueryRange: '7d', maxSelectorRange: '1h' },
      rate: { rate: 1, burst: 3 },
      routes: { b: { query: { maxQueryRange: '30d' }, rate: { rate: 1, burst: 2 } } },
    },
  },
});
const routes = cfg.routes.map((r) => compileRoute(r, {} as Upstream));
const tenants = createTenantResolver(cfg.tenants, { logger: createLogger('silent') });
const limits = buildLimits(cfg, routes, {
  logger: createLogger('silent'),
  metrics: createMetrics(),
  trust: createProxyTrust([]),
  limitRule: (id) => tenants.limitRule(id),
  state: new LimitsState(new ManualClock()),
});

const who = (user: string): Identity => Object.freeze({ subject: user, user, groups: [], claims: {}, method: 'basic' });
function ctx(user: string): RequestContext {
  const identity = who(user);
  return {
    req: { socket: { remoteAddress: '127.0.0.1' }, headers: {} } as unknown as IncomingMessage,
    identity,
    tenant: tenants.resolve(identity),
    apiPath: '/api/v1/query',
  } as unknown as RequestContext;
}
/** How many requests in a row the caller gets before the first 429. */
function burst(route: number, user: string): number {
  for (let i = 0; i < 10; i++) {
    try {
      limits.admit(routes[route]!, ctx(user));
    } catch (e) {
      assert.ok(e instanceof GatewayError && e.code === 'PG_RATE_LIMITED');
      return i;
    }
  }
  return 10;
}

test("rate: global burst 3, route b's own 2, the batch rule's 1 on every route", () => {
  assert.equal(burst(0, 'alice'), 3);
  assert.equal(burst(1, 'alice'), 2);
  assert.equal(burst(0, 'batch'), 1);
  assert.equal(burst(1, 'batch'), 1);
});

test('query limits merge key by key: route over global, tenant rule over both', () => {
  const q = (route: number, user: string) => limits.queryLimits(routes[route]!, ctx(user)).config;
  assert.equal(q(0, 'alice').maxQueryRange, 7 * 86_400_000);
  assert.equal(q(1, 'alice').maxQueryRange, 30 * 86_400_000);
  assert.equal(q(1, 'alice').maxSelectorRange, 3_600_000, 'a key the route does not set stays global');
  assert.equal(q(1, 'batch').maxQueryRange, 86_400_000);
  assert.equal(q(0, 'alice').maxPointsPerSeries, 11000, "Prometheus' own default");
});

test("a reload keeps the limiters' state: a slot held before it still counts after it, a spent bucket stays spent", () => {
  const state = new LimitsState(new ManualClock());
  const deps = {
    logger: createLogger('silent'),
    metrics: createMetrics(),
    trust: createProxyTrust([]),
    limitRule: (id: Identity) => tenants.limitRule(id),
    state,
  };
  const c = loadConfig({
    overrides: {
      routes: [{ name: 'a', upstream: { url: 'http://127.0.0.1:1' } }],
      auth: { anonymous: true },
      limits: { rate: { rate: 1, burst: 1 }, concurrency: { route: 1, queue: 0 } },
    },
  });
  const oldRoute = compileRoute(c.routes[0]!, {} as Upstream);
  const old = buildLimits(c, [oldRoute], deps);
  old.admit(oldRoute, ctx('alice'));
  // The reloaded runtime builds new route objects and new limits over the same state.
  const newRoute = compileRoute(c.routes[0]!, {} as Upstream);
  const reloaded = buildLimits(c, [newRoute], deps);
  assert.throws(
    () => reloaded.admit(newRoute, ctx('alice')),
    (e) => e instanceof GatewayError && e.code === 'PG_RATE_LIMITED',
  );
  assert.throws(
    () => reloaded.admit(newRoute, ctx('bob')),
    (e) => e instanceof GatewayError && e.code === 'PG_CONCURRENCY_UNAVAILABLE',
  );
  assert.deepEqual([...reloaded.inflight()], [['a', 1]]);
});
