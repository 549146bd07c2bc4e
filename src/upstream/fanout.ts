// The one undici dispatch handler that streams an upstream answer into client responses: one member (a plain stream) or several (coalesced).
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import { cleanResponseHeaders } from './headers.js';
import { RefusalCapture, isRefusal } from './refusal.js';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** Adjusts a caller's status/headers before they are written (Location rewrite, a refreshed session's Set-Cookie). */
export type OnHead = (status: number, headers: ResponseHeaders) => void;

/** Watches the one upstream answer as it streams by (the results cache keeps a copy). */
export interface Sink {
  head(status: number, headers: ResponseHeaders): void;
  data(chunk: Buffer): void;
  done(): void;
}

/** One caller's response; `resolve`/`reject` settle that caller's promise. */
export interface Member {
  res: ServerResponse;
  onHead?: OnHead;
  resolve(status: number): void;
  reject(err: Error): void;
  /** Its response asked us to wait for 'drain'. */
  blocked: boolean;
}

export interface FanOutOptions {
  /** Called once the head arrives or the call ends: from then on no caller may join (it would miss the start of the body). */
  close?: () => void;
  sink?: Sink;
  /** A signed request: a 401/403 is read (its reason kept) and rejected with UpstreamRefused instead of streamed. */
  refuseAuth?: boolean;
  /** The request body: a stream still going up is destroyed on error, as undici's own pool.stream() does. */
  body?: Readable | Buffer | string | null;
}

const aborted = (): Error => new errors.RequestAbortedError();

/**
 * One upstream call (undici's documented controller interface) fanned out to every member's response, at the
 * slowest member's pace. Cheaper than `pool.stream()` for a proxy: no AsyncResource scope, no `finished()` or
 * abort-signal listeners; a caller withdraws through `leave()` (called from the one 'close' listener promgate
 * already has on its response). The last member leaving aborts the call.
 */
export class FanOut implements Dispatcher.DispatchHandler {
  readonly members = new Set<Member>();
  private controller: Dispatcher.DispatchController | undefined;
  /** Members waiting for 'drain'; the upstream is paused while any is. */
  private blocked = 0;
  private status = 0;
  private refusal: RefusalCapture | undefined;

  constructor(private readonly o: FanOutOptions = {}) {}

  /** A new caller; settles with the status once its whole answer is handed to `res`. */
  join(
    res: ServerResponse,
    onHead: OnHead | undefined,
    resolve: (status: number) => void,
    reject: (err: Error) => void,
  ): Member {
    const m: Member = { res, onHead, resolve, reject, blocked: false };
    this.members.add(m);
    return m;
  }

  /** The member's client went away: it no longer paces the stream; the last one leaving aborts the upstream call. */
  leave(m: Member): void {
    if (!this.members.delete(m)) return;
    this.unblock(m);
    m.reject(aborted());
    if (this.members.size === 0) {
      this.o.close?.();
      // Without a controller yet, onRequestStart sees no members and aborts then.
      this.controller?.abort(aborted());
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController, _context: unknown): void {
    if (this.members.size === 0) controller.abort(aborted());
    else this.controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders): void {
    if (statusCode < 200) return; // 1xx: informational, the real answer follows
    this.o.close?.();
    this.controller = controller;
    this.status = statusCode;
    if (this.o.refuseAuth && isRefusal(statusCode)) {
      // The upstream refused promgate's credentials: every caller gets the same rejection, none gets this answer.
      this.refusal = new RefusalCapture(statusCode, headers);
      return;
    }
    this.o.sink?.head(statusCode, headers);
    // onHead adds caller-specific headers (Set-Cookie): each member gets its own copy when the object is shared
    // with another member or the sink; a plain stream adjusts undici's freshly parsed object in place.
    const shared = this.o.sink !== undefined || this.members.size > 1;
    for (const m of this.members) this.writeHead(m, shared ? { ...headers } : headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.refusal) {
      this.refusal.data(chunk);
      return;
    }
    this.o.sink?.data(chunk);
    for (const m of this.members) {
      if (!m.res.write(chunk) && !m.blocked) {
        m.blocked = true;
        this.blocked++;
        m.res.once('drain', () => this.unblock(m));
      }
    }
    if (this.blocked > 0) controller.pause();
  }

  onResponseEnd(): void {
    this.o.close?.();
    this.controller = undefined;
    if (this.refusal) {
      const err = this.refusal.error();
      for (const m of this.members) m.reject(err);
      this.members.clear();
      return;
    }
    this.o.sink?.done();
    for (const m of this.members) {
      m.res.end();
      m.resolve(this.status);
    }
    this.members.clear();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.o.close?.();
    this.controller = undefined;
    for (const m of this.members) {
      // Mid-stream: the client must see a broken response, never a silently truncated one.
      if (m.res.headersSent) m.res.destroy(err);
      m.reject(err);
    }
    this.members.clear();
    const b = this.o.body;
    if (b && typeof b === 'object' && !Buffer.isBuffer(b) && !b.destroyed) b.destroy(err);
  }

  private writeHead(m: Member, headers: ResponseHeaders): void {
    m.onHead?.(this.status, headers);
    m.res.writeHead(this.status, cleanResponseHeaders(headers));
  }

  private unblock(m: Member): void {
    if (!m.blocked) return;
    m.blocked = false;
    if (--this.blocked === 0) this.controller?.resume();
  }
}
