// Last-resort cleanup of fixture processes and temp dirs when a test run exits or is interrupted.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let installed = false;

function killEverything(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  killEverything();
  // Re-raise so the default action (or the test runner's own handler) still ends the process.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  // 'exit' covers normal ends, process.exit() and uncaught exceptions; signals need their own hooks,
  // because a signal's default action ends the process without emitting 'exit'.
  process.on('exit', killEverything);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
}

/** Tracks a child so it is SIGKILLed if the test process ends before the fixture's stop() ran. */
export function trackChild(child: ChildProcess): void {
  install();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** A temp dir under os.tmpdir() that is removed by remove() or, failing that, when the process exits. */
export interface TempDir {
  readonly path: string;
  file(name: string): string;
  remove(): void;
}

export function makeTempDir(label: string): TempDir {
  install();
  const path = mkdtempSync(join(tmpdir(), `promgate-e2e-${label}-`));
  liveDirs.add(path);
  return {
    path,
    file: (name) => join(path, name),
    remove: () => {
      rmSync(path, { recursive: true, force: true });
      liveDirs.delete(path);
    },
  };
}

/** Number of children and dirs still tracked; the smoke test uses it to prove stop() cleaned up. */
export function liveCounts(): { children: number; dirs: number } {
  return { children: liveChildren.size, dirs: liveDirs.size };
}
