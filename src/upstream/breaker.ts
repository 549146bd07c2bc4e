// A circuit breaker per upstream: opens on consecutive failures or a failure ratio, fails fast, probes after a cool-down.
import type { BreakerConfig } from '../config/schema-limits.js';
import type { Clock } from '../lib/clock.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** The metric's encoding (promgate_circuit_state). */
export const STATE_VALUE: Readonly<Record<CircuitState, number>> = { closed: 0, open: 1, 'half-open': 2 };

/** What `permit` hands out: a normal call, a half-open probe, or a refusal with the ms until the next probe. */
export type Permit = 'call' | 'probe' | number;

const BUCKETS = 10;

/**
 * Failures are connection errors, timeouts and 5xx answers; a 4xx is the client's mistake and counts as a
 * success (the upstream answered). Calls the client cancelled count as neither.
 */
export class CircuitBreaker {
  private st: 'closed' | 'open' | 'half-open' = 'closed';
  private consecutive = 0;
  private openedUntil = 0;
  private probes = 0;
  /** Ratio window: calls and failures per bucket of window/10, indexed by bucket number. */
  private readonly calls = new Float64Array(BUCKETS);
  private readonly fails = new Float64Array(BUCKETS);
  private readonly slot = new Float64Array(BUCKETS).fill(-1);
  private readonly bucketMs: number;

  constructor(
    private readonly cfg: BreakerConfig,
    private readonly clock: Clock,
    private readonly onChange?: (from: CircuitState, to: CircuitState) => void,
  ) {
    this.bucketMs = Math.max(1, cfg.window / BUCKETS);
  }

  /** The state as a reader should see it: an open circuit past its cool-down is waiting for its probe. */
  state(): CircuitState {
    if (this.st === 'open' && this.clock.now() >= this.openedUntil) return 'half-open';
    return this.st;
  }

  /** Ms until an open circuit lets a probe through (0 when it does now). */
  retryIn(): number {
    return this.st === 'open' ? Math.max(0, this.openedUntil - this.clock.now()) : 0;
  }

  permit(): Permit {
    if (this.st === 'closed') return 'call';
    if (this.st === 'open') {
      const wait = this.openedUntil - this.clock.now();
      if (wait > 0) return wait;
      this.move('half-open');
    }
    // Probes are out: others wait for their verdict, briefly.
    if (this.probes >= this.cfg.halfOpenProbes) return Math.max(1, Math.min(1000, this.cfg.coolDown));
    this.probes++;
    return 'probe';
  }

  success(p: Permit): void {
    if (p === 'probe') {
      this.probes = Math.max(0, this.probes - 1);
      if (this.st === 'half-open') this.close();
      return;
    }
    this.consecutive = 0;
    this.record(false);
  }

  failure(p: Permit): void {
    if (p === 'probe') {
      this.probes = Math.max(0, this.probes - 1);
      if (this.st === 'half-open') this.open();
      return;
    }
    if (this.st !== 'closed') return;
    this.consecutive++;
    const [calls, fails] = this.record(true);
    const ratio = this.cfg.failureRatio;
    if (
      this.consecutive >= this.cfg.failures ||
      (ratio !== undefined && calls >= this.cfg.minRequests && fails / calls >= ratio)
    )
      this.open();
  }

  /** A call that ended neither way (the client cancelled it) hands its probe back. */
  cancel(p: Permit): void {
    if (p === 'probe') this.probes = Math.max(0, this.probes - 1);
  }

  private open(): void {
    this.openedUntil = this.clock.now() + this.cfg.coolDown;
    this.move('open');
  }

  private close(): void {
    this.consecutive = 0;
    this.calls.fill(0);
    this.fails.fill(0);
    this.slot.fill(-1);
    this.move('closed');
  }

  private move(to: 'closed' | 'open' | 'half-open'): void {
    const from = this.st;
    this.st = to;
    if (from !== to) this.onChange?.(from, to);
  }

  /** Adds one call to the current bucket; returns the window's totals. */
  private record(failed: boolean): [number, number] {
    const n = Math.floor(this.clock.now() / this.bucketMs);
    const i = n % BUCKETS;
    if (this.slot[i] !== n) {
      this.slot[i] = n;
      this.calls[i] = 0;
      this.fails[i] = 0;
    }
    this.calls[i]!++;
    if (failed) this.fails[i]!++;
    let calls = 0;
    let fails = 0;
    for (let j = 0; j < BUCKETS; j++) {
      if (this.slot[j]! > n - BUCKETS) {
        calls += this.calls[j]!;
        fails += this.fails[j]!;
      }
    }
    return [calls, fails];
  }
}
