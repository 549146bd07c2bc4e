// Reads CPU time and memory of a process (and its descendants, for node:cluster workers) from /proc.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second for utime/stime in /proc/<pid>/stat (almost always 100). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The pid and its descendants (cluster workers are children of the primary). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      const kids = read(`/proc/${p}/task/${t}/children`);
      if (kids) for (const k of kids.trim().split(/\s+/)) if (k) out.push(Number(k));
    }
  }
  return out;
}

/** utime + stime of one process in seconds (all its threads: V8, GC, libuv pool). */
function cpuOf(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // The command name may hold spaces and parentheses; fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds used so far by the process tree rooted at pid. */
export function cpuSeconds(pid: number, tree = false): number {
  return (tree ? processTree(pid) : [pid]).reduce((s, p) => s + cpuOf(p), 0);
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) : 0;
}

/** Resident set size in MB of the process (tree: summed over the descendants). */
export function rssMb(pid: number, tree = false): number {
  return (tree ? processTree(pid) : [pid]).reduce((s, p) => s + statusKb(p, 'VmRSS'), 0) / 1024;
}

/** Peak resident set size (VmHWM) in MB; for a tree, the sum of each process's own peak. */
export function hwmMb(pid: number, tree = false): number {
  return (tree ? processTree(pid) : [pid]).reduce((s, p) => s + statusKb(p, 'VmHWM'), 0) / 1024;
}

/** Samples RSS every `everyMs` until stopped; returns the highest value seen. */
export function sampleRss(pid: number, tree = false, everyMs = 100): () => number {
  let peak = rssMb(pid, tree);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid, tree));
  }, everyMs);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssMb(pid, tree));
  };
}

/** Machine facts for the report. */
export function machine(): { cpus: number; model: string; ramGb: number } {
  const info = read('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? 'unknown';
  const mem = /^MemTotal:\s+(\d+) kB/m.exec(read('/proc/meminfo') ?? '');
  const cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  return { cpus, model, ramGb: mem ? Math.round(Number(mem[1]) / 1024 / 1024) : 0 };
}
