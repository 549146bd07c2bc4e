// One pooled keep-alive undici client per upstream, with its timeouts and TLS settings.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { Coalescer } from './coalesce.js';

export interface Upstream {
  readonly pool: Pool;
  readonly origin: string;
  /** Path prefix of the upstream URL, without a trailing slash ('' for none). */
  readonly basePath: string;
  readonly cfg: UpstreamConfig;
  /** Shares identical in-flight GETs of one tenant (see coalesce.ts). */
  readonly coalescer: Coalescer;
  close(): Promise<void>;
}

export function createUpstream(cfg: UpstreamConfig): Upstream {
  const url = new URL(cfg.url);
  const tls = cfg.tls;
  const pool = new Pool(url.origin, {
    connections: cfg.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: cfg.headersTimeout,
    bodyTimeout: cfg.bodyTimeout,
    connect: {
      timeout: cfg.connectTimeout,
      ...(tls
        ? {
            rejectUnauthorized: !tls.insecureSkipVerify,
            ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
            ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
            ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
          }
        : {}),
    },
  });
  const basePath = url.pathname.replace(/\/+$/, '');
  return { pool, origin: url.origin, basePath, cfg, coalescer: new Coalescer(pool, basePath), close: () => pool.close() };
}
