// Request coalescing: identical in-flight reads from one tenant share one upstream call, whose answer streams to every caller.
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { FanOut, type OnHead, type Sink } from './fanout.js';

/** Per-request headers that never change an answer; every other upstream header is part of the key. */
const NOISE = new Set(['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port']);

/**
 * The identity of an upstream call. The tenant id comes first and is never optional, so two tenants can
 * never share a call even when their rewritten queries happen to be equal; every header promgate sends
 * (tenant header, identity headers, Accept-Encoding, …) is included, so callers that would get a different
 * answer from the upstream never share one. Parts are length-prefixed, so no value can pose as another.
 */
export function coalesceKey(
  tenantId: string,
  route: string,
  method: string,
  pathAndQuery: string,
  headers: Readonly<Record<string, string | string[]>>,
  body: Buffer | null = null,
): string {
  let k = `${tenantId.length}:${tenantId}${route.length}:${route}${method.length}:${method}${pathAndQuery.length}:${pathAndQuery}`;
  for (const name of Object.keys(headers).sort()) {
    if (NOISE.has(name)) continue;
    const v = String(headers[name]);
    // A SigV4 signature and its date differ by the second; what they sign (method, path, query, body, credentials) is in the key already.
    if (name === 'x-amz-date' || (name === 'authorization' && v.startsWith('AWS4-HMAC-SHA256 '))) continue;
    k += `${name.length}:${name}${v.length}:${v}`;
  }
  if (body !== null) k += `body${body.length}:${body.toString('latin1')}`;
  return k;
}

export type { Sink } from './fanout.js';

export interface CoalescedRequest {
  tenantId: string;
  route: string;
  /** GET, or POST with a form body already read whole (rewritten or aligned); the body is part of the key. */
  method: 'GET' | 'POST';
  pathAndQuery: string;
  body: Buffer | null;
  headers: Record<string, string | string[]>;
  /** Receives the function that withdraws this caller (its client went away). */
  onCancel?: (cancel: () => void) => void;
  /** Signed: a 401/403 rejects every caller with UpstreamRefused (see refusal.ts). */
  refuseAuth?: boolean;
}

interface Open {
  group: FanOut;
  /** The first caller's request; the full key is only computed when a second caller may join. */
  first: CoalescedRequest;
  key?: string;
}

const keyOf = (r: CoalescedRequest): string =>
  coalesceKey(r.tenantId, r.route, r.method, r.pathAndQuery, r.headers, r.body);

/**
 * Groups per upstream, found by path+query first: a request with no twin in flight (the common case) costs
 * one map lookup, and the full key (tenant, route, headers) is built only when a candidate twin exists.
 * A group accepts new callers until the upstream's response head arrives.
 */
export class Coalescer {
  private readonly open = new Map<string, Open[]>();

  constructor(
    private readonly pool: Dispatcher,
    private readonly basePath: string,
  ) {}

  /**
   * Streams the answer into `res`, sharing the upstream call with identical in-flight requests; resolves with
   * the status. A new upstream call reports its answer to `sink` (a joining caller's sink is not needed).
   */
  stream(r: CoalescedRequest, res: ServerResponse, onHead?: OnHead, sink?: Sink): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const list = this.open.get(r.pathAndQuery);
      if (list) {
        const key = keyOf(r);
        for (const o of list) {
          if ((o.key ??= keyOf(o.first)) !== key) continue;
          const m = o.group.join(res, onHead, resolve, reject);
          r.onCancel?.(() => o.group.leave(m));
          return;
        }
      }
      const entry: Open = {
        group: new FanOut({ close: () => this.forget(r.pathAndQuery, entry), sink, refuseAuth: r.refuseAuth }),
        first: r,
      };
      if (list) list.push(entry);
      else this.open.set(r.pathAndQuery, [entry]);
      const m = entry.group.join(res, onHead, resolve, reject);
      r.onCancel?.(() => entry.group.leave(m));
      // Every coalesced call is a read (GET, or a query form POST read whole), so it may be retried on a failed connect.
      this.pool.dispatch(
        {
          path: this.basePath + r.pathAndQuery,
          method: r.method,
          headers: r.headers,
          body: r.body,
          idempotent: true,
        } as Dispatcher.DispatchOptions,
        entry.group,
      );
    });
  }

  private forget(pathAndQuery: string, entry: Open): void {
    const list = this.open.get(pathAndQuery);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i === -1) return;
    if (list.length === 1) this.open.delete(pathAndQuery);
    else list.splice(i, 1);
  }

  /** Upstream calls still accepting callers (for tests). */
  get inflight(): number {
    let n = 0;
    for (const l of this.open.values()) n += l.length;
    return n;
  }
}
