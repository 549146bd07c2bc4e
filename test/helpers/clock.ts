// A clock a test moves by hand, for code that takes `now(): number` (session, JWT and credential caches).

export interface ManualClock {
  /** The current time in ms since the epoch, like Date.now(). */
  now(): number;
  /** Moves the clock forward. */
  advance(ms: number): void;
}

/** Starts at `start` (default: the real time now, so tokens signed with the real clock stay comparable). */
export function manualClock(start = Date.now()): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      if (ms < 0) throw new Error('a clock only moves forward');
      t += ms;
    },
  };
}
