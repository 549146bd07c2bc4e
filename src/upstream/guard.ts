// The upstream send with its protections: circuit breaker (fail fast) and connect retries, as an undici dispatcher.
import type { Duplex } from 'node:stream';
import { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { CircuitBreaker, Permit } from './breaker.js';
import { classifyUpstreamError } from './failure.js';
import { isConnectError, isIdempotent, type RetryPolicy } from './retry.js';

/** A dispatch that the caller vouches is safe to repeat (a Prometheus read sent as a POST form). */
export type GuardedDispatchOptions = Dispatcher.DispatchOptions & { idempotent?: boolean };

/**
 * The (legacy) handler callbacks the pool drives: every promgate handler and undici's own request() use them.
 * undici's typings describe only the newer controller-style API, hence this interface of our own.
 */
interface Handler {
  onConnect?(abort: (err?: Error) => void, context?: object): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | null): void;
  onError?(err: Error): void;
  onUpgrade?(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void;
  onBodySent?(chunk: unknown): void;
  onRequestSent?(): void;
  onResponseStarted?(): void;
}

export interface GuardDeps {
  clock: Clock;
  /** A retry is about to be sent (metrics, log). */
  onRetry(attempt: number, delayMs: number, err: unknown): void;
}

/**
 * Wraps the pool: `request()`, `dispatch()` and the coalescer all go through `dispatch`. Nothing here buffers
 * or copies the answer: each callback is handed straight to the caller's handler.
 */
export class GuardedDispatcher extends Dispatcher {
  constructor(
    readonly inner: Dispatcher,
    readonly name: string,
    readonly breaker: CircuitBreaker | undefined,
    readonly retry: RetryPolicy | undefined,
    readonly deps: GuardDeps,
  ) {
    super();
  }

  override dispatch(opts: GuardedDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.retry?.call();
    return new GuardedCall(this, opts, handler as unknown as Handler).send();
  }

  override close(): Promise<void> {
    return this.inner.close();
  }

  override destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** One call through the guard: possibly several attempts, one handler towards the caller. */
class GuardedCall implements Handler {
  /** Set once the pool hands the request a connected socket: from then on bytes may have gone out. */
  private connected = false;
  private permit: Permit = 'call';
  private attempt = 0;
  private judged = false;

  constructor(private readonly g: GuardedDispatcher, private readonly opts: GuardedDispatchOptions, private readonly h: Handler) {}

  send(): boolean {
    const b = this.g.breaker;
    if (b) {
      const p = b.permit();
      if (typeof p === 'number') {
        const s = Math.max(1, Math.ceil(p / 1000));
        this.h.onError?.(new GatewayError('PG_CIRCUIT_OPEN', `upstream ${this.g.name} is failing: its circuit is open, retry in ${s}s`, { headers: { 'retry-after': String(s) } }));
        return false;
      }
      this.permit = p;
      this.judged = false;
    }
    return this.g.inner.dispatch(this.opts, this as unknown as Dispatcher.DispatchHandler);
  }

  onConnect(abort: (err?: Error) => void, context?: object): void {
    this.connected = true;
    this.h.onConnect?.(abort, context);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode >= 200) this.judge(statusCode >= 500 ? 'failure' : 'success');
    return this.h.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.h.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.judge('success');
    this.h.onComplete?.(trailers);
  }

  onError(err: Error): void {
    const aborted = classifyUpstreamError(err) === 'aborted';
    this.judge(aborted ? 'cancel' : 'failure');
    if (!aborted && !this.connected && this.mayRetry(err)) return;
    this.h.onError?.(err);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.h.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunk: unknown): void {
    this.h.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.h.onRequestSent?.();
  }

  onResponseStarted(): void {
    this.h.onResponseStarted?.();
  }

  /**
   * Nothing was sent (no socket was ever handed over), the request can be repeated (idempotent, its body is
   * not a stream that has been read), the budget allows it and the circuit is not open: send it again later.
   */
  private mayRetry(err: Error): boolean {
    const r = this.g.retry;
    if (!r || !isConnectError(err)) return false;
    const body = this.opts.body;
    const replayable = body === undefined || body === null || typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array;
    if (!replayable || !isIdempotent(this.opts.method, this.opts.idempotent === true)) return false;
    if (this.g.breaker && this.g.breaker.state() !== 'closed') return false;
    const n = this.attempt + 1;
    if (!r.allow(n)) return false;
    this.attempt = n;
    const delay = r.delay(n);
    this.g.deps.onRetry(n, delay, err);
    this.g.deps.clock.after(delay, () => {
      this.send();
    });
    return true;
  }

  /** One verdict per attempt for the breaker. */
  private judge(v: 'success' | 'failure' | 'cancel'): void {
    const b = this.g.breaker;
    if (!b || this.judged) return;
    this.judged = true;
    if (v === 'success') b.success(this.permit);
    else if (v === 'failure') b.failure(this.permit);
    else b.cancel(this.permit);
  }
}
