// Waits for a file system event in a directory, so a test knows that a watcher under test has been told too.
import { watch } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Kept before any test mocks the timers: the bound on waiting for a real event is real time. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

export interface DirEvents {
  /**
   * Resolves once an event for `name` in the directory has arrived (one since the last call counts), and every
   * other watcher of the same directory in this process has run its callback for it.
   */
  next(name: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function dirEvents(dir: string): DirEvents {
  const seen: string[] = [];
  let waiter: { name: string; resolve(): void } | undefined;
  const w = watch(dir, { persistent: false }, (_event, file) => {
    const name = String(file);
    if (waiter?.name === name) waiter.resolve();
    else seen.push(name);
  });
  return {
    async next(name, timeoutMs = 5000) {
      const i = seen.indexOf(name);
      if (i >= 0) seen.splice(0, i + 1);
      else {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve, reject) => {
          waiter = { name, resolve };
          timer = realSetTimeout(
            () => reject(new Error(`no file system event for ${name} in ${dir} within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }).finally(() => {
          realClearTimeout(timer);
          waiter = undefined;
          seen.length = 0;
        });
      }
      // inotify hands one event to every watcher of the directory in the same loop turn: after this turn, all have run.
      await nextTurn();
    },
    close: () => w.close(),
  };
}
