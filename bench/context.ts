// What every scenario shares: options, fixtures, the running services, and helpers to write path lists and measure.
import type { TempDir } from '../test/e2e/harness/cleanup.js';
import type { Stack } from '../test/e2e/harness/stack.js';
import type { Credentials } from './fixtures.js';
import { measure, type Load, type Target, type TargetResult } from './measure.js';
import type { Options } from './options.js';
import type { Service } from './processes.js';
import type { Row } from './table.js';
import { writePaths } from './wrk.js';

export interface Bench {
  o: Options;
  dir: TempDir;
  creds: Credentials;
  stack: Stack;
  /** Epoch seconds when Prometheus started scraping (scenario f sizes its range from it). */
  dataSince: number;
  direct: Service;
  bare: Service;
  /** promgate with the 5-user config, workers 1. */
  gateway: Service;
  gatewayStartupMs: number;
  /** `--baseline <dir>`: another built promgate (e.g. the commit before a change), same config, measured in the same rounds. */
  baseline?: Service;
  /** Where the baseline was built from, for the report. */
  baselineDir?: string;
  /** `--node-options`: NODE_OPTIONS for every promgate a scenario starts (after its shipped flags, so it wins). */
  gatewayEnv: Record<string, string>;
  /** prom-label-proxy, when a binary is available (PROM_LABEL_PROXY_BIN, or built with Go in a full run). */
  peer?: Service;
  peerBin?: string;
  /** Stopped at the end of the run, in reverse order. */
  cleanup: (() => Promise<unknown>)[];
  progress(msg: string): void;
}

export type Scenario = (b: Bench) => Promise<Row[]>;

let fileSeq = 0;

/** Writes a list of request paths for wrk and returns the file name. */
export function pathsFile(b: Bench, paths: readonly string[]): string {
  return writePaths(b.dir.path, `p${fileSeq++}`, paths);
}

/** The usual loaded run (16 connections) plus a 1-connection latency run. */
export function standardLoad(b: Bench): Load {
  return { connections: b.o.connections, seconds: b.o.seconds, latencySeconds: b.o.latencySeconds };
}

/** measure() with progress lines on stderr. */
export function measureTargets(
  b: Bench,
  tag: string,
  targets: readonly Target[],
  load: Load,
  rounds = b.o.rounds,
): Promise<Map<string, TargetResult>> {
  return measure(targets, load, {
    rounds,
    warmupSeconds: b.o.warmupSeconds,
    onRun: (role, round, s) =>
      b.progress(
        `[${tag}] round ${round + 1} ${role.padEnd(13)} ${s.rps.toFixed(0).padStart(6)} req/s  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  cpu ${s.cpuUs.toFixed(0)} µs/req  rss ${s.rssMb.toFixed(0)} MB  errors ${s.errors}`,
      ),
  });
}

export const BASELINE = 'baseline';
export const PEER = 'prom-label-proxy';

/**
 * direct, bare and promgate targets for one workload (direct and bare get the already-rewritten paths), then the
 * baseline promgate and prom-label-proxy when the run has them and `extras` asks for them (scenarios a–e; both get
 * promgate's paths: they enforce themselves).
 * `gateway`/`baseline` replace the shared instances (scenario c runs gateways configured for OIDC).
 */
export function trio(
  b: Bench,
  upstreamFile: string,
  promgateFile: Target['pathsFile'],
  headers: Record<string, string>,
  o: { extras?: boolean; gateway?: Service; baseline?: Service } = {},
): Target[] {
  const t: Target[] = [
    { role: 'direct', service: b.direct, pathsFile: upstreamFile, headers, latency: false, warmup: false },
    { role: 'bare', service: b.bare, pathsFile: upstreamFile, headers },
    { role: 'promgate', service: o.gateway ?? b.gateway, pathsFile: promgateFile, headers },
  ];
  if (!o.extras) return t;
  const baseline = o.baseline ?? b.baseline;
  if (baseline) t.push({ role: BASELINE, service: baseline, pathsFile: promgateFile, headers });
  if (b.peer) t.push({ role: PEER, service: b.peer, pathsFile: promgateFile, headers });
  return t;
}
