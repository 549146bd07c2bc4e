// An undici dispatch handler that writes the upstream answer straight into the client response, with backpressure.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { errors, util } from 'undici';
import { cleanResponseHeaders } from './headers.js';
import { RefusalCapture, isRefusal } from './refusal.js';

export type OnHead = (status: number, headers: Record<string, string | string[] | undefined>) => void;

/**
 * What undici's `pool.stream()` does for a proxy, without its per-request machinery: no AsyncResource scope,
 * no `finished()` listeners on the response, no abort-signal listeners. The caller cancels through
 * `cancel()` (promgate calls it from the one 'close' listener it already has on the response), and the
 * promise settles when the upstream answer has been handed to the response (or failed).
 */
export class ResponseStreamer {
  private abortUpstream: ((err?: Error) => void) | undefined;
  private cancelled = false;
  private resume: (() => void) | undefined;
  private settled = false;
  private refusal: RefusalCapture | undefined;
  status = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly body: Readable | Buffer | string | null,
    private readonly onHead: OnHead | undefined,
    private readonly resolve: (status: number) => void,
    private readonly reject: (err: Error) => void,
    /** A signed request: a 401/403 answer is read (its reason kept) and rejected with UpstreamRefused instead of streamed. */
    private readonly refuseAuth = false,
  ) {}

  /** The client went away: abort the upstream call (now, or as soon as undici hands us the abort function). */
  cancel(): void {
    if (this.settled || this.cancelled) return;
    this.cancelled = true;
    this.abortUpstream?.(new errors.RequestAbortedError());
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelled) abort(new errors.RequestAbortedError());
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: informational, the real answer follows
    const headers = util.parseHeaders(rawHeaders) as Record<string, string | string[] | undefined>;
    this.status = statusCode;
    if (this.refuseAuth && isRefusal(statusCode)) {
      this.refusal = new RefusalCapture(statusCode, headers);
      return true;
    }
    this.onHead?.(statusCode, headers);
    this.res.writeHead(statusCode, cleanResponseHeaders(headers));
    this.resume = resume;
    this.res.on('drain', resume);
    return !this.res.writableNeedDrain;
  }

  onData(chunk: Buffer): boolean {
    if (this.refusal) {
      this.refusal.data(chunk);
      return true;
    }
    return this.res.write(chunk);
  }

  onComplete(): void {
    this.finish();
    if (this.refusal) {
      this.reject(this.refusal.error());
      return;
    }
    this.res.end();
    this.resolve(this.status);
  }

  onError(err: Error): void {
    this.finish();
    // Mid-stream: the client must see a broken response, never a silently truncated one.
    if (this.res.headersSent) this.res.destroy(err);
    // As pool.stream() does: a request body still streaming up cannot be sent any more.
    const b = this.body;
    if (b && typeof b === 'object' && !Buffer.isBuffer(b) && !b.destroyed) b.destroy(err);
    this.reject(err);
  }

  private finish(): void {
    this.settled = true;
    this.abortUpstream = undefined;
    if (this.resume) this.res.off('drain', this.resume);
  }
}
