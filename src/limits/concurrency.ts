// In-flight limits per route and per tenant, with a short first-come-first-served queue in front of them.
import { GatewayError } from '../errors.js';
import type { Clock, Timer } from '../lib/clock.js';

export interface ConcurrencySettings {
  /** Most requests of the route in flight; undefined: no limit (the count is still kept, for the gauge). */
  route?: number;
  queue: number;
  queueTimeout: number;
  status: 429 | 503;
}

/** Hands back the slot; safe to call more than once. While the request still waits, it leaves the queue. */
export type Release = () => void;

interface Waiter {
  key: string;
  max: number | undefined;
  resolve(r: Release): void;
  reject(e: Error): void;
  timer: Timer;
  done: boolean;
}

export class ConcurrencyLimiter {
  /** Requests of the route holding a slot now (promgate_inflight_requests). */
  inflight = 0;
  private readonly perKey = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly s: ConcurrencySettings,
    private readonly clock: Clock,
  ) {}

  /**
   * A slot for a request of tenant `key` (at most `max` of its requests at once). Synchronous when one is free;
   * a promise when the request has to queue; throws the refusal when the queue is full. `onWait` receives
   * the function that withdraws a queued request (its client went away).
   */
  acquire(key: string, max: number | undefined, onWait?: (cancel: Release) => void): Release | Promise<Release> {
    // A queued request is held back either by the route (then this one does not fit either) or by its own
    // tenant (then only that tenant's newcomers are held too), so a fitting request never jumps the queue.
    if (this.fits(key, max)) return this.take(key, max);
    if (this.waiting.length >= this.s.queue) throw this.refusal('too many requests in flight and the queue is full');
    return new Promise<Release>((resolve, reject) => {
      const w: Waiter = { key, max, resolve, reject, done: false, timer: undefined as unknown as Timer };
      w.timer = this.clock.after(this.s.queueTimeout, () => {
        if (w.done) return;
        this.leave(w);
        reject(this.refusal(`no slot freed up within ${this.s.queueTimeout} ms`));
      });
      this.waiting.push(w);
      onWait?.(() => {
        if (w.done) return;
        this.leave(w);
        w.timer.cancel();
        reject(
          new GatewayError(
            this.s.status === 429 ? 'PG_CONCURRENCY_LIMITED' : 'PG_CONCURRENCY_UNAVAILABLE',
            'the client went away while queued',
          ),
        );
      });
    });
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  private fits(key: string, max: number | undefined): boolean {
    if (this.s.route !== undefined && this.inflight >= this.s.route) return false;
    return max === undefined || (this.perKey.get(key) ?? 0) < max;
  }

  private take(key: string, max: number | undefined): Release {
    this.inflight++;
    if (max !== undefined) this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight--;
      if (max !== undefined) {
        const n = (this.perKey.get(key) ?? 1) - 1;
        if (n <= 0) this.perKey.delete(key);
        else this.perKey.set(key, n);
      }
      this.drain();
    };
  }

  /** Admits queued requests in order, skipping (not reordering past) those whose tenant is still full. */
  private drain(): void {
    for (let i = 0; i < this.waiting.length;) {
      const w = this.waiting[i]!;
      if (this.s.route !== undefined && this.inflight >= this.s.route) return;
      if (!this.fits(w.key, w.max)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      w.done = true;
      w.timer.cancel();
      w.resolve(this.take(w.key, w.max));
    }
  }

  private leave(w: Waiter): void {
    w.done = true;
    const i = this.waiting.indexOf(w);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private refusal(why: string): GatewayError {
    const retry = String(Math.max(1, Math.ceil(this.s.queueTimeout / 1000)));
    return new GatewayError(
      this.s.status === 429 ? 'PG_CONCURRENCY_LIMITED' : 'PG_CONCURRENCY_UNAVAILABLE',
      `concurrency limit: ${why}`,
      { headers: { 'retry-after': retry } },
    );
  }
}
