// Measures targets in alternation (direct, bare, promgate, … over several rounds) and keeps per-round figures and medians.
import { cpuSeconds, sampleRss } from './procstat.js';
import type { Service } from './processes.js';
import { runWrk } from './wrk.js';

export interface Target {
  /** Column the figures belong to: direct, bare, promgate, or a variant such as promgate-10k. */
  role: string;
  service: Service;
  /** Request paths for wrk; a function gets a fresh list for each wrk run (0, 1, 2, …), e.g. to defeat caches. */
  pathsFile: string | ((run: number) => string);
  headers?: Record<string, string>;
  /** Measure single-connection latency and warm up before the rounds (default true; Prometheus itself needs neither). */
  latency?: boolean;
  warmup?: boolean;
}

export interface Load {
  connections: number;
  threads?: number;
  seconds: number;
  /** Seconds of a separate 1-connection run for latency; 0 takes latency from the loaded run. */
  latencySeconds: number;
  timeoutSeconds?: number;
}

export interface RunStats {
  rps: number;
  /** Latency in ms. */
  p50: number;
  p99: number;
  /** CPU µs of the target process (tree) per request, over the loaded run. */
  cpuUs: number;
  /** Highest sampled RSS during the runs, MB. */
  rssMb: number;
  errors: number;
  requests: number;
  /** Response bytes per request (wrk counts headers too) and access-log bytes per request. */
  bytesPerReq: number;
  logBytesPerReq: number;
  /** Response bytes per second, partial answers included (what a few huge answers per run are measured by). */
  mbps: number;
}

export interface TargetResult {
  role: string;
  runs: RunStats[];
  median: RunStats;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function medianStats(runs: readonly RunStats[]): RunStats {
  const keys = Object.keys(runs[0]!) as (keyof RunStats)[];
  const out = {} as RunStats;
  for (const k of keys)
    out[k] = k === 'errors' || k === 'requests' ? runs.reduce((s, r) => s + r[k], 0) : median(runs.map((r) => r[k]));
  out.rssMb = Math.max(...runs.map((r) => r.rssMb));
  return out;
}

/** One loaded run (and, if asked, one light run for latency) against one target. */
const runCounts = new WeakMap<Target, number>();

function nextPaths(t: Target): string {
  if (typeof t.pathsFile === 'string') return t.pathsFile;
  const n = runCounts.get(t) ?? 0;
  runCounts.set(t, n + 1);
  return t.pathsFile(n);
}

export async function measureOnce(t: Target, load: Load): Promise<RunStats> {
  const { pid, tree } = t.service;
  const cpu0 = cpuSeconds(pid, tree);
  const log0 = t.service.stdoutBytes();
  const stopRss = sampleRss(pid, tree);
  const w = await runWrk({
    origin: t.service.origin,
    pathsFile: nextPaths(t),
    headers: t.headers,
    connections: load.connections,
    threads: load.threads,
    seconds: load.seconds,
    timeoutSeconds: load.timeoutSeconds,
  });
  const cpu = cpuSeconds(pid, tree) - cpu0;
  const logBytes = t.service.stdoutBytes() - log0;
  let lat = { p50: w.p50, p99: w.p99, errors: 0 };
  if (load.latencySeconds > 0 && t.latency !== false) {
    lat = await runWrk({
      origin: t.service.origin,
      pathsFile: nextPaths(t),
      headers: t.headers,
      connections: 1,
      seconds: load.latencySeconds,
      timeoutSeconds: load.timeoutSeconds,
    });
  }
  const rssMb = stopRss();
  const n = Math.max(1, w.requests);
  return {
    rps: w.rps,
    p50: lat.p50,
    p99: lat.p99,
    cpuUs: (cpu * 1e6) / n,
    rssMb,
    errors: w.errors + lat.errors,
    requests: w.requests,
    bytesPerReq: w.bytes / n,
    mbps: w.bytes / w.seconds / 1e6,
    logBytesPerReq: logBytes / n,
  };
}

export interface MeasureOptions {
  rounds: number;
  warmupSeconds: number;
  /** Called after each run, for progress output. */
  onRun?: (role: string, round: number, s: RunStats) => void;
}

/** Warms every target up, then runs them in turn for each round; medians over rounds, errors summed. */
export async function measure(
  targets: readonly Target[],
  load: Load,
  o: MeasureOptions,
): Promise<Map<string, TargetResult>> {
  if (o.warmupSeconds > 0) {
    for (const t of targets.filter((x) => x.warmup !== false))
      await runWrk({
        origin: t.service.origin,
        pathsFile: nextPaths(t),
        headers: t.headers,
        connections: load.connections,
        threads: load.threads,
        seconds: o.warmupSeconds,
        timeoutSeconds: load.timeoutSeconds,
      });
  }
  const runs = new Map<string, RunStats[]>(targets.map((t) => [t.role, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const t of targets) {
      const s = await measureOnce(t, load);
      runs.get(t.role)!.push(s);
      o.onRun?.(t.role, r, s);
    }
  }
  const out = new Map<string, TargetResult>();
  for (const [role, rs] of runs) out.set(role, { role, runs: rs, median: medianStats(rs) });
  return out;
}
