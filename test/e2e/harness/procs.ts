// Spawns fixture processes with their output captured for diagnostics, and stops them reliably.
import { spawn, type ChildProcess } from 'node:child_process';
import { trackChild } from './cleanup.js';
import type { Watched } from '../../helpers/wait.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Keeps the last `max` lines; older lines are dropped so a chatty process cannot exhaust memory. */
export class RingBuffer {
  private readonly items: string[] = [];
  dropped = 0;
  constructor(private readonly max: number) {}
  push(line: string): void {
    this.items.push(line);
    if (this.items.length > this.max) {
      this.items.shift();
      this.dropped++;
    }
  }
  lines(): string[] {
    return [...this.items];
  }
  text(): string {
    const head = this.dropped ? `[... ${this.dropped} earlier lines dropped ...]\n` : '';
    return head + this.items.join('\n');
  }
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Lines of combined stdout+stderr kept for diagnostics (default 400). */
  logLines?: number;
  /** Lines of stdout kept verbatim for parsing, e.g. JSON logs (default 20 000). */
  stdoutLines?: number;
}

export interface Proc extends Watched {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** Last lines of stdout and stderr, each prefixed with its stream. */
  logs(): string;
  stdoutLines(): string[];
  stderrLines(): string[];
  exited(): boolean;
  exitInfo(): ExitInfo | undefined;
  /** Sends a signal without waiting (e.g. SIGHUP to reload); false if the process is gone. */
  kill(signal?: NodeJS.Signals): boolean;
  waitExit(): Promise<ExitInfo>;
  /** Sends `signal` (default SIGTERM), SIGKILLs after graceMs (default 5000), and resolves once exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

function lineSplitter(onLine: (line: string) => void): { feed(chunk: Buffer): void; end(): void } {
  let rest = '';
  return {
    feed(chunk) {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) onLine(p.replace(/\r$/, ''));
    },
    end() {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

export function spawnProc(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Proc {
  const combined = new RingBuffer(opts.logLines ?? 400);
  const out = new RingBuffer(opts.stdoutLines ?? 20_000);
  const err = new RingBuffer(opts.stdoutLines ?? 20_000);
  const child = spawn(cmd, [...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  let info: ExitInfo | undefined;
  const exitPromise = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once('error', (e) => {
      combined.push(`[spawn error] ${e.message}`);
      // A failed spawn never emits 'exit'; treat it as an exit so waiters do not hang.
      if (child.pid === undefined) {
        info = { code: -1, signal: null };
        resolve(info);
      }
    });
  });
  const so = lineSplitter((l) => {
    out.push(l);
    combined.push(`[out] ${l}`);
  });
  const se = lineSplitter((l) => {
    err.push(l);
    combined.push(`[err] ${l}`);
  });
  child.stdout?.on('data', (c: Buffer) => so.feed(c));
  child.stdout?.on('end', () => so.end());
  child.stderr?.on('data', (c: Buffer) => se.feed(c));
  child.stderr?.on('end', () => se.end());

  const exitSuffix = (): string => (info ? `\n[exited code=${String(info.code)} signal=${String(info.signal)}]` : '');

  return {
    name,
    child,
    pid: child.pid,
    logs: () => `$ ${cmd} ${args.join(' ')}\n${combined.text()}${exitSuffix()}`,
    stdoutLines: () => out.lines(),
    stderrLines: () => err.lines(),
    exited: () => info !== undefined,
    exitInfo: () => info,
    kill: (signal = 'SIGTERM') => (info ? false : child.kill(signal)),
    waitExit: () => exitPromise,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (info) return info;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), graceMs);
      });
      const first = await Promise.race([exitPromise, timedOut]);
      clearTimeout(timer);
      if (first === 'timeout') child.kill('SIGKILL');
      return exitPromise;
    },
  };
}

/** True when the pid no longer names a live process (signal 0 probes without sending anything). */
export function pidGone(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
