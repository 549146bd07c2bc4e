// Polling helpers for tests: wait for a condition (or a real interval a spawned process measures), failing with a diagnosis.
/** The real timer, kept before any test mocks the timers: waiting for real events takes real time. */
const realSetTimeout = globalThis.setTimeout;

export const sleep = (ms: number): Promise<void> => new Promise((r) => realSetTimeout(r, ms));

/**
 * Waits until `ms` have passed since `since` (a Date.now() value). Only for e2e tests where a spawned process must
 * see a real interval pass (cookie-refresh, a debounce that must not fire); anything that can be awaited as an
 * event (a log line, a request, a file) is waited for with waitFor instead.
 */
export async function elapsed(since: number, ms: number): Promise<void> {
  const left = since + ms - Date.now();
  if (left > 0) await sleep(left);
}

/** Something whose death makes further waiting pointless (a spawned fixture process). */
export interface Watched {
  readonly name: string;
  exited(): boolean;
  logs(): string;
}

export interface WaitOptions {
  /** What is being waited for; appears in the timeout message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Extra diagnostics appended to the timeout message (e.g. captured process logs). */
  logs?: () => string;
  /** Processes that must stay alive; if one exits, waiting stops at once with its logs. */
  procs?: readonly Watched[];
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function diagnostics(opts: WaitOptions): string {
  const parts: string[] = [];
  for (const p of opts.procs ?? []) parts.push(`--- ${p.name} logs ---\n${p.logs()}`);
  if (opts.logs) parts.push(`--- logs ---\n${opts.logs()}`);
  return parts.length ? `\n${parts.join('\n')}` : '';
}

/**
 * Calls fn until it returns a truthy value (which is returned) or the timeout passes. Errors thrown by fn
 * count as "not yet"; the last one is included in the timeout error together with the captured logs.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 100;
  const started = Date.now();
  let lastError = 'condition was falsy';
  for (;;) {
    const dead = (opts.procs ?? []).find((p) => p.exited());
    if (dead) {
      throw new Error(`${dead.name} exited while waiting for ${opts.what}${diagnostics(opts)}`);
    }
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      lastError = 'condition was falsy';
    } catch (err) {
      lastError = describe(err);
    }
    if (Date.now() - started >= timeoutMs) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.what}; last result: ${lastError}${diagnostics(opts)}`,
      );
    }
    await sleep(intervalMs);
  }
}
