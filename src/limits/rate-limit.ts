// Token buckets per route and identity: in memory, or shared by every replica through one atomic Redis script.
import type { Logger } from '../observability/logger.js';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';

export interface Bucket {
  /** Tokens per second. */
  rate: number;
  burst: number;
}

/** Where buckets live. `take` answers 0 when the cost was paid, else how many ms until it could be. */
export interface BucketStore {
  readonly kind: 'memory' | 'redis';
  take(key: string, b: Bucket, cost: number): number | Promise<number>;
}

interface Cell {
  tokens: number;
  at: number;
}

const MAX_CELLS = 100_000;

/** One process's buckets. A request costs one map lookup and a few additions. */
export class MemoryBuckets implements BucketStore {
  readonly kind = 'memory';
  private readonly cells = new Map<string, Cell>();

  constructor(
    private readonly clock: Clock,
    private readonly max = MAX_CELLS,
  ) {}

  take(key: string, b: Bucket, cost: number): number {
    const now = this.clock.now();
    let c = this.cells.get(key);
    if (c === undefined) {
      if (this.cells.size >= this.max) this.sweep(now, b);
      this.cells.set(key, (c = { tokens: b.burst, at: now }));
    } else {
      const elapsed = now - c.at;
      if (elapsed > 0) {
        c.tokens = Math.min(b.burst, c.tokens + (elapsed * b.rate) / 1000);
        c.at = now;
      }
    }
    if (c.tokens >= cost) {
      c.tokens -= cost;
      return 0;
    }
    return Math.ceil(((cost - c.tokens) * 1000) / b.rate);
  }

  /** Drops buckets that have refilled (they are the same as no bucket); past the cap, the oldest half. */
  private sweep(now: number, b: Bucket): void {
    for (const [k, c] of this.cells) if (c.tokens + ((now - c.at) * b.rate) / 1000 >= b.burst) this.cells.delete(k);
    if (this.cells.size >= this.max) {
      let n = this.cells.size / 2;
      for (const k of this.cells.keys()) {
        if (n-- <= 0) break;
        this.cells.delete(k);
      }
    }
  }

  get size(): number {
    return this.cells.size;
  }
}

/**
 * The bucket update as one Lua script, so two replicas can never both spend the last token. Time comes from
 * Redis (TIME), so replicas whose clocks disagree still share one refill rate. Tokens are kept as a string to
 * keep their fraction; the key expires once the bucket would be full again anyway.
 */
export const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 't', 'v')
local tokens = burst
if cur[1] then
  local elapsed = now - tonumber(cur[1])
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(burst, tonumber(cur[2]) + elapsed * rate / 1000)
end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', now, 'v', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return wait
`;

/** The part of an ioredis client the shared buckets use (the script is registered as a command). */
export interface ScriptClient {
  promgateTake(key: string, rate: number, burst: number, cost: number): Promise<number>;
}

export class RedisBuckets implements BucketStore {
  readonly kind = 'redis';
  constructor(
    private readonly client: ScriptClient,
    private readonly prefix: string,
  ) {}

  take(key: string, b: Bucket, cost: number): Promise<number> {
    return this.client.promgateTake(this.prefix + key, b.rate, b.burst, cost);
  }
}

export interface RateLimiterDeps {
  logger: Logger;
  /** Counts a decision made without the shared store: admitted (fail open) or refused (fail closed). */
  storeFailure(route: string, admitted: boolean): void;
}

/**
 * One route's rate limit. `admit` returns nothing when the request may go on, throws the 429 (with
 * Retry-After) when its bucket is empty, and with Redis returns a promise of either.
 */
export class RateLimiter {
  /** Set while the shared store fails, so an outage is logged once and its end once. */
  private failing = false;

  constructor(
    readonly route: string,
    private readonly store: BucketStore,
    private readonly failOpen: boolean,
    private readonly costs: Readonly<Record<string, number>>,
    private readonly deps: RateLimiterDeps,
  ) {}

  admit(identityKey: string, b: Bucket, apiPath: string | undefined): void | Promise<void> {
    const cost = (apiPath !== undefined ? this.costs[apiPath] : undefined) ?? 1;
    const key = `${this.route}\u0000${identityKey}`;
    const r = this.store.take(key, b, cost);
    if (typeof r === 'number') return decide(r, b);
    return r.then(
      (wait) => {
        if (this.failing) {
          this.failing = false;
          this.deps.logger.info({ route: this.route }, 'rate limits: the shared store answers again');
        }
        decide(wait, b);
      },
      (err: unknown) => this.storeDown(err),
    );
  }

  private storeDown(err: unknown): void {
    this.deps.storeFailure(this.route, this.failOpen);
    if (!this.failing) {
      this.failing = true;
      this.deps.logger.error(
        { route: this.route, err: (err as Error)?.message, failOpen: this.failOpen },
        `rate limits: the shared store cannot be reached; requests are ${this.failOpen ? 'admitted without a limit' : 'refused'} until it answers`,
      );
    }
    if (!this.failOpen)
      throw new GatewayError(
        'PG_RATE_LIMIT_UNAVAILABLE',
        'rate limits cannot be checked right now (the shared store is unreachable)',
        { headers: { 'retry-after': '1' } },
      );
  }
}

function decide(wait: number, b: Bucket): void {
  if (wait <= 0) return;
  const seconds = Math.max(1, Math.ceil(wait / 1000));
  throw new GatewayError(
    'PG_RATE_LIMITED',
    `rate limit exceeded (limit rate: ${b.rate}/s, burst ${b.burst}); retry in ${seconds}s`,
    { headers: { 'retry-after': String(seconds) } },
  );
}
