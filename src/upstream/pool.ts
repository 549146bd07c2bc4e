// One pooled keep-alive undici client per upstream, with its timeouts and TLS settings.
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { Coalescer } from './coalesce.js';
import { createTlsSource, type TlsSource, type TlsSourceDeps } from './tls.js';

export interface Upstream {
  readonly pool: Pool;
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

export function createUpstream(cfg: UpstreamConfig, deps: TlsSourceDeps = {}): Upstream {
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
  return {
    pool, origin: url.origin, basePath, cfg, tls, coalescer: new Coalescer(pool, basePath),
    close: () => {
      tls?.close();
      return pool.close();
    },
  };
}
