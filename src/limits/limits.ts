// Builds each route's limits once from the config (global → route → tenant rule) and admits requests through them.
import { loadRedis } from '../lib/redis.js';
import type { Redis, RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { ConcurrencyConfig, QueryLimitsConfig, RateConfig } from '../config/schema-limits.js';
import { limitsRedisUrl } from '../config/derived.js';
import type { ErrorCode } from '../errors.js';
import type { Identity } from '../authn/identity.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { IncomingMessage } from 'node:http';
import type { Tenant } from '../tenancy/tenant.js';
import type { CompiledRoute } from '../routes/table.js';
import type { ProxyTrust } from '../lib/trusted-proxies.js';
import type { QueryLimits } from '../enforce/plan.js';
import { clientAddress } from './client-address.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { ConcurrencyLimiter } from './concurrency.js';
import { QUERY_LIMIT_OF_CODE } from '../enforce/query-limits.js';
import {
  MemoryBuckets,
  RateLimiter,
  RedisBuckets,
  TAKE_SCRIPT,
  type Bucket,
  type BucketStore,
  type ScriptClient,
} from './rate-limit.js';

/**
 * What the limits read of a request (the pipeline's LimitedRequest is one): who, which tenant, which endpoint,
 * and where to put the function that hands the concurrency slot back when the response closes.
 */
export interface LimitedRequest {
  readonly req: IncomingMessage;
  readonly identity?: Identity;
  readonly tenant?: Tenant;
  readonly apiPath?: string;
  readonly route?: { readonly name: string };
  release?: () => void;
}

/** ioredis is loaded only when limits.redis is configured (as for the session store). */

type LimitsRedis = Redis & ScriptClient;

/**
 * What outlives a reload: bucket contents, the Redis connection, and in-flight counts (a reload must not hand
 * every tenant a fresh set of slots while the old requests still run). One per gateway process.
 */
export class LimitsState {
  readonly memory: MemoryBuckets;
  private readonly redisByUrl = new Map<string, LimitsRedis>();
  private readonly limiters = new Map<string, ConcurrencyLimiter>();

  constructor(readonly clock: Clock = systemClock) {
    this.memory = new MemoryBuckets(clock);
  }

  redis(url: string, commandTimeout: number): LimitsRedis {
    let c = this.redisByUrl.get(url);
    if (!c) {
      const opts: RedisOptions = {
        // Fail at once while disconnected instead of queueing: the route's failOpen decides, and a request never
        // waits for a Redis that is down. ioredis keeps reconnecting, so limits recover without a restart.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(times * 200, 2000),
      };
      c = new (loadRedis())(url, opts) as LimitsRedis;
      c.on('error', () => {}); // failures surface on the commands (and in /-/ready)
      c.defineCommand('promgateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
      this.redisByUrl.set(url, c);
    }
    return c;
  }

  concurrency(key: string, make: () => ConcurrencyLimiter): ConcurrencyLimiter {
    let l = this.limiters.get(key);
    if (!l) this.limiters.set(key, (l = make()));
    return l;
  }

  /** Lines for /-/ready: the shared store's connection (informational: limits degrade, they do not stop serving). */
  readyLines(): string[] {
    return [...this.redisByUrl].map(
      ([url, c]) =>
        `rate-limit store ${redact(url)}: ${c.status === 'ready' ? 'connected' : `NOT connected (${c.status})`}`,
    );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.redisByUrl.values()].map((c) => c.quit().catch(() => c.disconnect())));
    this.redisByUrl.clear();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** One route's limits, every figure merged in advance for each tenant rule that has limits (index -1: none). */
interface RouteLimits {
  readonly rate?: RateLimiter;
  readonly concurrency: ConcurrencyLimiter;
  readonly query: ReadonlyMap<number, QueryLimitsConfig>;
  readonly buckets: ReadonlyMap<number, Bucket | undefined>;
  readonly tenantMax: ReadonlyMap<number, number | undefined>;
  readonly routeTimeout: number;
}

export interface RuntimeLimits {
  /** Rate limit, then a concurrency slot (held until the response closes, through ctx.release). */
  admit(route: CompiledRoute, ctx: LimitedRequest): void | Promise<void>;
  /** The query limits of this route and caller, for the plan stage. */
  queryLimits(route: CompiledRoute, ctx: LimitedRequest): QueryLimits;
  /** Counts a refusal by its code, when the code is a limit's. */
  rejected(ctx: LimitedRequest, code: ErrorCode): void;
  /** Per-route in-flight counts (the gauge). */
  inflight(): Iterable<readonly [string, number]>;
}

export interface LimitsDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  trust: ProxyTrust;
  /** Index of the caller's tenant rule with limits (-1: none). */
  limitRule(id: Identity): number;
  state: LimitsState;
}

const LIMIT_OF_CODE: Readonly<Partial<Record<ErrorCode, string>>> = {
  ...QUERY_LIMIT_OF_CODE,
  PG_RATE_LIMITED: 'rate',
  PG_RATE_LIMIT_UNAVAILABLE: 'rate',
  PG_CONCURRENCY_LIMITED: 'concurrency',
  PG_CONCURRENCY_UNAVAILABLE: 'concurrency',
  PG_CIRCUIT_OPEN: 'circuit',
};

export function buildLimits(cfg: Config, routes: readonly CompiledRoute[], deps: LimitsDeps): RuntimeLimits {
  const l = cfg.limits;
  const redisUrl = limitsRedisUrl(cfg);
  const store: BucketStore =
    redisUrl !== undefined
      ? new RedisBuckets(deps.state.redis(redisUrl, l.redis!.commandTimeout), l.redis!.keyPrefix)
      : deps.state.memory;
  const ruleLimits = cfg.tenants.rules.flatMap((r, i) => (r.limits ? [[i, r.limits] as const] : []));
  const byRoute = new Map<CompiledRoute, RouteLimits>();
  const rateDeps = {
    logger: deps.logger,
    storeFailure: (route: string, admitted: boolean) => deps.metrics.limitStoreFailure(route, admitted),
  };

  for (const route of routes) {
    const over = l.routes[route.name];
    const queryBase: QueryLimitsConfig = { ...l.query, ...over?.query };
    const rateCfg: RateConfig | undefined = over?.rate ?? l.rate;
    const conc: ConcurrencyConfig | undefined = over?.concurrency ?? l.concurrency;
    const query = new Map<number, QueryLimitsConfig>([[-1, queryBase]]);
    const buckets = new Map<number, Bucket | undefined>([
      [-1, rateCfg && { rate: rateCfg.rate, burst: rateCfg.burst }],
    ]);
    const tenantMax = new Map<number, number | undefined>([[-1, conc?.tenant]]);
    for (const [i, t] of ruleLimits) {
      query.set(i, { ...queryBase, ...t.query });
      buckets.set(i, t.rate ? { rate: t.rate.rate, burst: t.rate.burst } : buckets.get(-1));
      tenantMax.set(i, t.concurrency?.tenant ?? conc?.tenant);
    }
    const anyRate = [...buckets.values()].some((b) => b !== undefined);
    const settings = {
      route: conc?.route,
      queue: conc?.queue ?? 0,
      queueTimeout: conc?.queueTimeout ?? 0,
      status: conc?.status ?? 503,
    };
    byRoute.set(route, {
      rate: anyRate
        ? new RateLimiter(route.name, store, rateCfg?.failOpen ?? true, rateCfg?.costs ?? {}, rateDeps)
        : undefined,
      concurrency: deps.state.concurrency(
        `${route.name}\u0000${JSON.stringify(settings)}`,
        () => new ConcurrencyLimiter(settings, deps.state.clock),
      ),
      query,
      buckets,
      tenantMax,
      routeTimeout: route.cfg.upstream.headersTimeout,
    });
  }

  /** Anonymous callers are told apart by address (X-Forwarded-For only through trusted proxies). */
  const identityKey = (ctx: LimitedRequest): string => {
    const id = ctx.identity;
    return !id || id.method === 'anonymous' ? `ip:${clientAddress(ctx.req, deps.trust)}` : `${id.method}:${id.subject}`;
  };

  const slot = (rl: RouteLimits, ctx: LimitedRequest, rule: number): void | Promise<void> => {
    const t = ctx.tenant;
    const max = rl.tenantMax.get(rule);
    const key = max === undefined ? '' : t && !t.unrestricted ? t.id : identityKey(ctx);
    const r = rl.concurrency.acquire(key, max, (cancel) => (ctx.release = cancel));
    if (typeof r === 'function') {
      ctx.release = r;
      return;
    }
    return r.then((release) => {
      ctx.release = release;
    });
  };

  return {
    admit(route, ctx) {
      const rl = byRoute.get(route)!;
      const rule = ctx.identity ? deps.limitRule(ctx.identity) : -1;
      if (rl.rate) {
        const b = rl.buckets.get(rule);
        const paid = b && rl.rate.admit(identityKey(ctx), b, ctx.apiPath);
        if (paid) return paid.then(() => slot(rl, ctx, rule));
      }
      return slot(rl, ctx, rule);
    },
    queryLimits(route, ctx) {
      const rl = byRoute.get(route)!;
      const rule = ctx.identity ? deps.limitRule(ctx.identity) : -1;
      return {
        config: rl.query.get(rule) ?? rl.query.get(-1)!,
        routeTimeout: rl.routeTimeout,
        apiPath: ctx.apiPath ?? '',
        now: deps.state.clock.now(),
      };
    },
    rejected(ctx, code) {
      const limit = LIMIT_OF_CODE[code];
      if (limit === undefined) return;
      const t = ctx.tenant;
      deps.metrics.limitRejected(ctx.route?.name ?? 'none', t ? (t.unrestricted ? 'unrestricted' : t.id) : '', limit);
    },
    *inflight() {
      for (const [route, rl] of byRoute) yield [route.name, rl.concurrency.inflight] as const;
    },
  };
}
