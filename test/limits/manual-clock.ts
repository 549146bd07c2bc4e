// A clock for tests of time-based protections: it moves only when told to, firing due timers in order.
import type { Clock, Timer } from '../../src/lib/clock.js';

export class ManualClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private seq = 0;
  constructor(private t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Timer {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.filter((t) => t.live).length;
  }

  /** Moves time forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.live = false;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    this.t = end;
  }
}
