// The upstream send with its protections: circuit breaker (fail fast) and connect retries, as an undici dispatcher.
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { CircuitBreaker, Permit } from './breaker.js';
import { classifyUpstreamError } from './failure.js';
import { isConnectError, isIdempotent, type RetryPolicy } from './retry.js';
import { controllerHandler, type Handler } from './legacy-handler.js';

/** A dispatch that the caller vouches is safe to repeat (a Prometheus read sent as a POST form). */
export type GuardedDispatchOptions = Dispatcher.DispatchOptions & { idempotent?: boolean };

export interface GuardDeps {
  clock: Clock;
  /** A retry is about to be sent (metrics, log). */
  onRetry(attempt: number, delayMs: number, err: unknown): void;
}

/**
 * Wraps the pool: `request()`, `dispatch()` and the coalescer all go through `dispatch`. Nothing here buffers
 * or copies the answer: each callback, with the pool's own controller, is handed straight to the caller's
 * handler. The guard speaks undici's documented controller interface on both sides; undici's `request()`
 * still hands a legacy handler, which legacy-handler.ts adapts.
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
    return new GuardedCall(this, opts, controllerHandler(handler)).send();
  }

  override close(): Promise<void> {
    return this.inner.close();
  }

  override destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Stands in for the pool's controller when no attempt ever reached it (the circuit is open). */
const NO_CALL: Dispatcher.DispatchController = {
  aborted: false,
  paused: false,
  reason: null,
  abort: () => undefined,
  pause: () => undefined,
  resume: () => undefined,
};

/** One call through the guard: possibly several attempts, one handler towards the caller. */
class GuardedCall implements Handler {
  /** Set once the pool hands the request a connected socket: from then on bytes may have gone out. */
  private connected = false;
  private permit: Permit = 'call';
  private attempt = 0;
  private judged = false;

  constructor(
    private readonly g: GuardedDispatcher,
    private readonly opts: GuardedDispatchOptions,
    private readonly h: Handler,
  ) {}

  send(): boolean {
    const b = this.g.breaker;
    if (b) {
      const p = b.permit();
      if (typeof p === 'number') {
        const s = Math.max(1, Math.ceil(p / 1000));
        this.h.onResponseError(
          NO_CALL,
          new GatewayError(
            'PG_CIRCUIT_OPEN',
            `upstream ${this.g.name} is failing: its circuit is open, retry in ${s}s`,
            { headers: { 'retry-after': String(s) } },
          ),
        );
        return false;
      }
      this.permit = p;
      this.judged = false;
    }
    return this.g.inner.dispatch(this.opts, this);
  }

  // undici calls onRequestStart when the request is handed a connected socket (the legacy onConnect).
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.connected = true;
    this.h.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.h.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode >= 200) this.judge(statusCode >= 500 ? 'failure' : 'success');
    this.h.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.h.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.judge('success');
    this.h.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    const aborted = classifyUpstreamError(err) === 'aborted';
    this.judge(aborted ? 'cancel' : 'failure');
    if (!aborted && !this.connected && this.mayRetry(err)) return;
    this.h.onResponseError(controller, err);
  }

  /**
   * Nothing was sent (no socket was ever handed over), the request can be repeated (idempotent, its body is
   * not a stream that has been read), the budget allows it and the circuit is not open: send it again later.
   */
  private mayRetry(err: Error): boolean {
    const r = this.g.retry;
    if (!r || !isConnectError(err)) return false;
    const body = this.opts.body;
    const replayable =
      body === undefined ||
      body === null ||
      typeof body === 'string' ||
      Buffer.isBuffer(body) ||
      body instanceof Uint8Array;
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
