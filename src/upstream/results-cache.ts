// The opt-in short results cache of query and query_range answers, keyed by tenant and the rewritten request.
import type { ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import { alignParams } from './align.js';
import { coalesceKey } from './coalesce.js';
import { cleanResponseHeaders } from './headers.js';
import type { OnHead, Sink } from './fanout.js';

export interface ResultsCacheConfig {
  /** How long an answer is served again (ms); 0 turns the cache off. */
  ttl: number;
  /** Instant queries' `time` is rounded down to a multiple of this (ms). */
  instantAlign: number;
  maxBytes: number;
  maxEntryBytes: number;
}

interface Entry {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  storedAt: number;
}

/** The request as it goes upstream once aligned, and its cache key. */
export interface CacheableCall {
  key: string;
  pathAndQuery: string;
  /** The aligned form body of a POST, or null for a GET. */
  body: Buffer | null;
}

const KINDS: readonly ['query_range', 'query'] = ['query_range', 'query'];

/** The Prometheus API a path ends with, when it is one whose answers are cached. */
function kindOf(path: string): 'query' | 'query_range' | undefined {
  for (const k of KINDS) if (path.endsWith(`/api/v1/${k}`)) return k;
  return undefined;
}

/** An instant or range query (with or without a query string): a read, whatever its method. */
export function isQueryPath(pathAndQuery: string): boolean {
  const q = pathAndQuery.indexOf('?');
  return kindOf(q < 0 ? pathAndQuery : pathAndQuery.slice(0, q)) !== undefined;
}

export class ResultsCache {
  private readonly entries: LRUCache<string, Entry>;

  constructor(
    readonly cfg: ResultsCacheConfig,
    private readonly onLookup: (hit: boolean) => void = () => undefined,
  ) {
    this.entries = new LRUCache<string, Entry>({
      maxSize: cfg.maxBytes,
      sizeCalculation: (e) => e.body.length + 512,
      ttl: cfg.ttl,
      ttlAutopurge: false,
    });
  }

  /**
   * The aligned call and its key, or undefined for a request that is not cached. The tenant id leads the key
   * (see coalesceKey), so no tenant can ever be served an answer stored for another, even for the same text.
   */
  prepare(
    tenantId: string,
    route: string,
    method: string,
    pathAndQuery: string,
    headers: Readonly<Record<string, string | string[]>>,
    body: Buffer | null,
    nowMs: number,
  ): CacheableCall | undefined {
    const q = pathAndQuery.indexOf('?');
    const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    const kind = kindOf(path);
    if (!kind) return undefined;
    let aligned: string | undefined;
    if (method === 'GET' && body === null) {
      aligned = alignParams(kind, q < 0 ? '' : pathAndQuery.slice(q + 1), nowMs, this.cfg.instantAlign);
      if (aligned === undefined) return undefined;
      const pq = `${path}?${aligned}`;
      return { key: coalesceKey(tenantId, route, method, pq, headers), pathAndQuery: pq, body: null };
    }
    // A POST form (Grafana's default) is cached only when its parameters are all in the body.
    if (method !== 'POST' || body === null || q >= 0) return undefined;
    aligned = alignParams(kind, body.toString('latin1'), nowMs, this.cfg.instantAlign);
    if (aligned === undefined) return undefined;
    const b = Buffer.from(aligned, 'latin1');
    return { key: coalesceKey(tenantId, route, method, path, headers, b), pathAndQuery: path, body: b };
  }

  /** Answers from the cache when it holds the call; true when it did. */
  serve(key: string, res: ServerResponse, onHead: OnHead | undefined, nowMs: number): boolean {
    const e = this.entries.get(key);
    this.onLookup(e !== undefined);
    if (!e) return false;
    const headers = { ...e.headers };
    onHead?.(e.status, headers);
    const out = cleanResponseHeaders(headers);
    out['age'] = String(Math.floor((nowMs - e.storedAt) / 1000));
    out['x-promgate-cache'] = 'hit';
    out['content-length'] = String(e.body.length);
    res.writeHead(e.status, out);
    res.end(e.body);
    return true;
  }

  /** Collects the upstream answer as it streams by, and stores it when it is a complete, small, shareable 200. */
  sink(key: string, nowMs: () => number): Sink {
    const chunks: Buffer[] = [];
    let size = 0;
    let keep = true;
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    return {
      head: (s, h) => {
        status = s;
        headers = h;
        // Only plain successes; an answer that sets a cookie or forbids storing belongs to its caller alone.
        const cc = String(h['cache-control'] ?? '');
        if (s !== 200 || h['set-cookie'] !== undefined || /no-store|private/i.test(cc)) keep = false;
      },
      data: (chunk) => {
        if (!keep) return;
        size += chunk.length;
        if (size > this.cfg.maxEntryBytes) {
          keep = false;
          chunks.length = 0;
          return;
        }
        chunks.push(chunk);
      },
      done: () => {
        if (!keep) return;
        this.entries.set(key, { status, headers, body: Buffer.concat(chunks, size), storedAt: nowMs() });
      },
    };
  }

  /** Entries held (for tests and the bench). */
  get size(): number {
    return this.entries.size;
  }
}
