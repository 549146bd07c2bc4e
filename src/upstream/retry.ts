// When an upstream call may be sent again: only if its connection failed before any byte went out, within a budget.
import type { RetryConfig } from '../config/schema-limits.js';
import type { Clock } from '../lib/clock.js';

/** Errors of the connect phase (refused, unreachable, DNS, connect timeout, reset during the handshake). */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

export function isConnectError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | null;
  return CONNECT_ERRORS.has(e?.code ?? '') || CONNECT_ERRORS.has(e?.cause?.code ?? '');
}

/** Methods that may be repeated; a POST only when the caller vouches for it (a Prometheus read sent as a form). */
export function isIdempotent(method: string, vouched: boolean): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || (vouched && method === 'POST');
}

const WINDOW_MS = 10_000;
const BUCKETS = 10;

/**
 * Backoff and budget. The budget keeps retries to a share of the traffic of the last 10 s (or `minRetries`,
 * whichever is larger), so a dead upstream costs at most that much extra load instead of multiplying it.
 */
export class RetryPolicy {
  private readonly calls = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private readonly slot = new Float64Array(BUCKETS).fill(-1);

  constructor(
    readonly cfg: RetryConfig,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {}

  /** Counts a first attempt (the budget grows with traffic). */
  call(): void {
    this.calls[this.bucket()]!++;
  }

  /** May retry number `n` (1 for the first) go out now? Takes one from the budget when it may. */
  allow(n: number): boolean {
    if (n > this.cfg.attempts) return false;
    const i = this.bucket();
    let calls = 0;
    let retries = 0;
    for (let j = 0; j < BUCKETS; j++) {
      calls += this.calls[j]!;
      retries += this.retries[j]!;
    }
    if (retries >= Math.max(this.cfg.minRetries, this.cfg.budget * calls)) return false;
    this.retries[i]!++;
    return true;
  }

  /** Equal jitter: between half and all of backoff × 2^(n-1), capped; never 0, so a retry never races the failure. */
  delay(n: number): number {
    const d = Math.min(this.cfg.maxBackoff, this.cfg.backoff * 2 ** (n - 1));
    return d / 2 + this.random() * (d / 2);
  }

  private bucket(): number {
    const n = Math.floor(this.clock.now() / (WINDOW_MS / BUCKETS));
    const i = n % BUCKETS;
    if (this.slot[i] !== n) {
      // Buckets not written for a whole window are stale; clear them as their slot comes round again.
      for (let j = 0; j < BUCKETS; j++) {
        if (this.slot[j]! <= n - BUCKETS) {
          this.calls[j] = 0;
          this.retries[j] = 0;
          this.slot[j] = -1;
        }
      }
      this.slot[i] = n;
      this.calls[i] = 0;
      this.retries[i] = 0;
    }
    return i;
  }
}
