// Request coalescing: identical in-flight reads from one tenant share one upstream call, whose answer streams to every caller.
import type { ServerResponse } from 'node:http';
import { errors, util, type Dispatcher } from 'undici';
import { cleanResponseHeaders } from './headers.js';
import type { OnHead } from './stream-handler.js';
import { RefusalCapture, isRefusal } from './refusal.js';

/** Per-request headers that never change an answer; every other upstream header is part of the key. */
const NOISE = new Set(['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port']);

/**
 * The identity of an upstream call. The tenant id comes first and is never optional, so two tenants can
 * never share a call even when their rewritten queries happen to be equal; every header promgate sends
 * (tenant header, identity headers, Accept-Encoding, …) is included, so callers that would get a different
 * answer from the upstream never share one. Parts are length-prefixed, so no value can pose as another.
 */
export function coalesceKey(tenantId: string, route: string, method: string, pathAndQuery: string, headers: Readonly<Record<string, string | string[]>>, body: Buffer | null = null): string {
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

/** Watches the one upstream answer of a group as it streams by (the results cache keeps a copy). */
export interface Sink {
  head(status: number, headers: Record<string, string | string[] | undefined>): void;
  data(chunk: Buffer): void;
  done(): void;
}

interface Member {
  res: ServerResponse;
  onHead?: OnHead;
  resolve(status: number): void;
  reject(err: Error): void;
  blocked: boolean;
}

/** One upstream call (an undici dispatch handler) fanned out to every member's response, at the slowest member's pace. */
class Group {
  readonly members = new Set<Member>();
  private abortUpstream: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private blocked = 0;
  private status = 0;
  private refusal: RefusalCapture | undefined;

  constructor(private readonly close: () => void, private readonly sink: Sink | undefined, private readonly refuseAuth = false) {}

  leave(m: Member): void {
    if (!this.members.delete(m)) return;
    this.unblock(m);
    m.reject(new errors.RequestAbortedError());
    // The last caller gone: nobody wants the answer any more.
    if (this.members.size === 0) {
      this.close();
      this.abortUpstream?.(new errors.RequestAbortedError());
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.members.size === 0) abort(new errors.RequestAbortedError());
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.close(); // from now on a new caller starts its own call: it would miss the start of the body
    this.status = statusCode;
    this.resume = resume;
    const headers = util.parseHeaders(rawHeaders) as Record<string, string | string[] | undefined>;
    if (this.refuseAuth && isRefusal(statusCode)) {
      // The upstream refused promgate's credentials: every caller gets the same 502, none gets this answer.
      this.refusal = new RefusalCapture(statusCode, headers);
      return true;
    }
    this.sink?.head(statusCode, headers);
    for (const m of this.members) {
      const own = { ...headers }; // onHead adds caller-specific headers (a refreshed session's Set-Cookie)
      m.onHead?.(statusCode, own);
      m.res.writeHead(statusCode, cleanResponseHeaders(own));
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.refusal) {
      this.refusal.data(chunk);
      return true;
    }
    this.sink?.data(chunk);
    for (const m of this.members) {
      if (!m.res.write(chunk) && !m.blocked) {
        m.blocked = true;
        this.blocked++;
        m.res.once('drain', () => this.unblock(m));
      }
    }
    return this.blocked === 0;
  }

  onComplete(): void {
    this.close();
    if (this.refusal) {
      const err = this.refusal.error();
      for (const m of this.members) m.reject(err);
      this.members.clear();
      return;
    }
    this.sink?.done();
    for (const m of this.members) {
      m.res.end();
      m.resolve(this.status);
    }
    this.members.clear();
  }

  onError(err: Error): void {
    this.close();
    for (const m of this.members) {
      if (m.res.headersSent) m.res.destroy(err);
      m.reject(err);
    }
    this.members.clear();
  }

  private unblock(m: Member): void {
    if (!m.blocked) return;
    m.blocked = false;
    if (--this.blocked === 0) this.resume?.();
  }
}

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
  group: Group;
  /** The first caller's request; the full key is only computed when a second caller may join. */
  first: CoalescedRequest;
  key?: string;
}

const keyOf = (r: CoalescedRequest): string => coalesceKey(r.tenantId, r.route, r.method, r.pathAndQuery, r.headers, r.body);

/**
 * Groups per upstream, found by path+query first: a request with no twin in flight (the common case) costs
 * one map lookup, and the full key (tenant, route, headers) is built only when a candidate twin exists.
 * A group accepts new callers until the upstream's response head arrives.
 */
export class Coalescer {
  private readonly open = new Map<string, Open[]>();

  constructor(private readonly pool: Dispatcher, private readonly basePath: string) {}

  /**
   * Streams the answer into `res`, sharing the upstream call with identical in-flight requests; resolves with
   * the status. A new upstream call reports its answer to `sink` (a joining caller's sink is not needed).
   */
  stream(r: CoalescedRequest, res: ServerResponse, onHead?: OnHead, sink?: Sink): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const m: Member = { res, onHead, resolve, reject, blocked: false };
      const list = this.open.get(r.pathAndQuery);
      if (list) {
        const key = keyOf(r);
        for (const o of list) {
          if ((o.key ??= keyOf(o.first)) !== key) continue;
          o.group.members.add(m);
          r.onCancel?.(() => o.group.leave(m));
          return;
        }
      }
      const entry: Open = { group: new Group(() => this.forget(r.pathAndQuery, entry), sink, r.refuseAuth), first: r };
      if (list) list.push(entry);
      else this.open.set(r.pathAndQuery, [entry]);
      entry.group.members.add(m);
      r.onCancel?.(() => entry.group.leave(m));
      // Every coalesced call is a read (GET, or a query form POST read whole), so it may be retried on a failed connect.
      this.pool.dispatch({ path: this.basePath + r.pathAndQuery, method: r.method, headers: r.headers, body: r.body, idempotent: true } as Dispatcher.DispatchOptions, entry.group);
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
