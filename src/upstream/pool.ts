// One pooled keep-alive undici client per upstream, with its timeouts and TLS settings.
import { Pool, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { Coalescer } from './coalesce.js';
import { createTlsSource, type TlsSource, type TlsSourceDeps } from './tls.js';
import { CircuitBreaker } from './breaker.js';
import { GuardedDispatcher } from './guard.js';
import { RetryPolicy } from './retry.js';

export interface Upstream {
  /** The raw pool (readiness probes use it, so probing never moves the breaker). */
  readonly pool: Pool;
  /** What requests go through: the pool itself, or the pool behind the breaker and retries when configured. */
  readonly dispatcher: Dispatcher;
  /** Present when upstream.breaker is configured. */
  readonly breaker?: CircuitBreaker;
  readonly origin: string;
  /** Path prefix of the upstream URL, without a trailing slash ('' for none). */
  readonly basePath: string;
  readonly cfg: UpstreamConfig;
  /** Shares identical in-flight GETs of one tenant (see coalesce.ts). */
  readonly coalescer: Coalescer;
  /** Present with `tls`: the CA and mTLS files, re-read when they change. */
  readonly tls?: TlsSource;
  close(): Promise<void>;
}

export interface UpstreamDeps extends TlsSourceDeps {
  clock?: Clock;
  logger?: Logger;
  onRetry?: (upstream: string) => void;
}

export function createUpstream(cfg: UpstreamConfig, deps: UpstreamDeps = {}): Upstream {
  const url = new URL(cfg.url);
  const tls = cfg.tls ? createTlsSource(cfg.tls, cfg.connectTimeout, deps) : undefined;
  const pool = new Pool(url.origin, {
    connections: cfg.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: cfg.headersTimeout,
    bodyTimeout: cfg.bodyTimeout,
    // With TLS files, a connector that always uses the current certificates (see tls.ts).
    connect: tls ? tls.connect : { timeout: cfg.connectTimeout },
  });
  const basePath = url.pathname.replace(/\/+$/, '');
  const clock = deps.clock ?? systemClock;
  const name = cfg.url;
  const breaker =
    cfg.breaker &&
    new CircuitBreaker(cfg.breaker, clock, (from, to) => {
      const log = deps.logger;
      if (to === 'open')
        log?.warn(
          { upstream: name, from, coolDownMs: cfg.breaker!.coolDown },
          'circuit opened: calls to this upstream fail fast until a probe succeeds',
        );
      else log?.info({ upstream: name, from, to }, `circuit ${to}`);
    });
  const retry = cfg.retries && new RetryPolicy(cfg.retries, clock);
  // Without a breaker or retries the pool is used as it is: no wrapper on the hot path.
  const dispatcher: Dispatcher =
    breaker || retry
      ? new GuardedDispatcher(pool, name, breaker, retry, {
          clock,
          onRetry(attempt, delayMs, err) {
            deps.onRetry?.(name);
            deps.logger?.warn(
              { upstream: name, attempt, delayMs: Math.round(delayMs), err: (err as Error).message },
              'upstream connect failed; retrying',
            );
          },
        })
      : pool;
  return {
    pool,
    dispatcher,
    breaker,
    origin: url.origin,
    basePath,
    cfg,
    tls,
    coalescer: new Coalescer(dispatcher, basePath),
    close: () => {
      tls?.close();
      return pool.close();
    },
  };
}
