// A credential (AWS keys, an Entra ID token) kept fresh: refreshed ahead of expiry, one fetch in flight, the last good one kept.
export interface Clock {
  now(): number;
  /** Schedules fn after ms; returns a cancel function. Real timers are unref'd so they never hold the process. */
  later(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  later(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface Fetched<T> {
  value: T;
  /** Epoch ms when the credential stops working; undefined: never (static keys). */
  expiresAt?: number;
  /** Epoch ms the issuer suggests refreshing at (Entra ID's refresh_in); optional. */
  refreshAfter?: number;
}

export interface RefresherOptions<T> {
  /** `again` is true for every fetch after the first (AWS: bypass the SDK's own cache). */
  fetch(again: boolean): Promise<Fetched<T>>;
  /** A fetch that takes longer fails (a hanging token endpoint must not hang requests). */
  timeoutMs: number;
  clock?: Clock;
  onError?(reason: string): void;
  onRefresh?(expiresAt: number | undefined): void;
  /** Refresh this long before expiry at most (default 5 min, the margin the AWS SDK and MSAL use themselves). */
  marginMs?: number;
}

export interface Refresher<T> {
  /** The current credential; waits only when none is usable (first fetch, or expired). */
  get(): T | Promise<T>;
  status(): { ok: boolean; detail: string };
  /** Starts the first fetch (at start-up, so /-/ready reflects it) without waiting. */
  warm(): void;
  close(): void;
}

export class CredentialUnavailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CredentialUnavailable';
  }
}

/** A credential this close to its expiry is not used any more (at most; short-lived ones use a quarter of their lifetime). */
const HARD_MARGIN_MS = 10_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export function createRefresher<T>(o: RefresherOptions<T>): Refresher<T> {
  const clock = o.clock ?? realClock;
  const margin = o.marginMs ?? 300_000;
  let current: (Fetched<T> & { hardAt: number }) | undefined;
  let refreshAt = Infinity;
  let inflight: Promise<T> | undefined;
  let fetches = 0;
  let lastError: string | undefined;
  let retryMs = RETRY_MIN_MS;
  let cancelTimer: (() => void) | undefined;
  let closed = false;

  const usable = (f: typeof current, now: number): f is Fetched<T> & { hardAt: number } =>
    f !== undefined && now < f.hardAt;

  function schedule(ms: number): void {
    cancelTimer?.();
    if (closed) return;
    cancelTimer = clock.later(Math.max(0, ms), () => {
      cancelTimer = undefined;
      void refresh().catch(() => undefined);
    });
  }

  function withTimeout(p: Promise<Fetched<T>>): Promise<Fetched<T>> {
    return new Promise((resolve, reject) => {
      const cancel = clock.later(o.timeoutMs, () =>
        reject(new CredentialUnavailable(`no answer within ${o.timeoutMs} ms`)),
      );
      p.then(
        (v) => {
          cancel();
          resolve(v);
        },
        (e: unknown) => {
          cancel();
          reject(e);
        },
      );
    });
  }

  function refresh(): Promise<T> {
    if (inflight) return inflight;
    const started = clock.now();
    const again = fetches++ > 0;
    inflight = withTimeout(Promise.resolve().then(() => o.fetch(again)))
      .then((f) => {
        const previous = current;
        // Not used this close to expiry (clock skew, time in flight): 10 s, or a quarter of a short lifetime.
        const hardAt =
          f.expiresAt === undefined ? Infinity : f.expiresAt - Math.min(HARD_MARGIN_MS, (f.expiresAt - started) / 4);
        current = { ...f, hardAt };
        lastError = undefined;
        retryMs = RETRY_MIN_MS;
        if (f.expiresAt !== undefined) {
          // Half the lifetime for short-lived credentials, so a token shorter than the margin is not refreshed in a loop.
          const lead = Math.min(margin, (f.expiresAt - started) / 2);
          refreshAt = Math.min(f.refreshAfter ?? Infinity, f.expiresAt - lead);
          // An issuer that hands back the credential it already gave (a cache of its own) is asked again later, not at once.
          if (previous?.expiresAt !== undefined && f.expiresAt <= previous.expiresAt)
            refreshAt = Math.max(refreshAt, clock.now() + RETRY_MAX_MS);
          schedule(refreshAt - clock.now());
        } else refreshAt = Infinity;
        o.onRefresh?.(f.expiresAt);
        return f.value;
      })
      .catch((e: unknown) => {
        lastError = e instanceof Error ? e.message : String(e);
        o.onError?.(lastError);
        // Try again in the background (with back-off), so readiness recovers without waiting for traffic.
        schedule(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        throw new CredentialUnavailable(lastError);
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  return {
    get() {
      const now = clock.now();
      if (usable(current, now)) {
        // Due for refresh but still valid: refresh in the background and keep using the current one.
        if (now >= refreshAt && !inflight) void refresh().catch(() => undefined);
        return current.value;
      }
      return refresh();
    },
    status() {
      const now = clock.now();
      if (usable(current, now))
        return { ok: true, detail: lastError ? `valid; last refresh failed: ${lastError}` : 'valid' };
      if (lastError) return { ok: false, detail: lastError };
      return { ok: false, detail: current ? 'expired; refreshing' : 'not fetched yet' };
    },
    warm() {
      if (!current && !inflight) void refresh().catch(() => undefined);
    },
    close() {
      closed = true;
      cancelTimer?.();
    },
  };
}
