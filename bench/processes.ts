// Starts the processes under test: promgate (built CLI, via the e2e launcher) and the bare proxy, each in its own process.
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { spawnProc, type Proc } from '../test/e2e/harness/procs.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROMGATE_ENTRY, REPO_ROOT, startPromgate, type PromgateInstance } from '../test/e2e/harness/promgate.js';
import { waitFor, sleep } from '../test/e2e/harness/wait.js';
import { freePort } from '../test/e2e/harness/ports.js';

export interface Service {
  name: string;
  origin: string;
  pid: number;
  /** Count CPU and memory over the process tree (node:cluster primary + workers). */
  tree: boolean;
  /** Bytes the process wrote to stdout (access log) so far. */
  stdoutBytes(): number;
  stop(): Promise<unknown>;
}

/** One GET; resolves with the status (0 when the connection fails). */
export function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

/**
 * The harness captures stdout line by line for tests; at thousands of access-log lines a second that
 * would cost the bench process real CPU on a 2-core box, so only the byte count is kept.
 */
function countStdout(proc: Proc): () => number {
  let bytes = 0;
  const out = proc.child.stdout;
  out?.removeAllListeners('data');
  out?.on('data', (c: Buffer) => (bytes += c.length));
  return () => bytes;
}

export interface GatewayStart {
  service: Service;
  /** Process start → first 200 from /-/healthy, in ms. */
  startupMs: number;
  inst: PromgateInstance;
}

/**
 * The Node flags a build ships with: those of its package.json `start` script (`node <flags> dist/cli/main.js`),
 * which the image's ENTRYPOINT repeats. Each build is measured as it ships, the baseline with its own.
 */
export function shippedNodeFlags(entry: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '../../package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    return /^node((?: --[^ ]+)*) dist\/cli\/main\.js/.exec(pkg.scripts?.start ?? '')?.[1]?.trim() ?? '';
  } catch {
    return '';
  }
}

export async function startGateway(
  name: string,
  configYaml: string,
  env: Record<string, string> = {},
  /** Another build's CLI entry (`--baseline <dir>`: <dir>/dist/cli/main.js); default this tree's. */
  entry?: string,
): Promise<GatewayStart> {
  const flags = shippedNodeFlags(entry ?? PROMGATE_ENTRY);
  const nodeOptions = [flags, env.NODE_OPTIONS ?? ''].filter(Boolean).join(' ');
  const t0 = performance.now();
  const inst = await startPromgate({
    configYaml,
    env: nodeOptions ? { ...env, NODE_OPTIONS: nodeOptions } : env,
    waitHealthy: false,
    entry,
  });
  await waitFor(async () => (await status(`${inst.url}/-/healthy`)) === 200, {
    what: `${name} /-/healthy`,
    timeoutMs: 60_000, // 10,000 users on a busy shared machine took 11–24 s (20 s once timed out)
    intervalMs: 5,
    procs: [inst.proc],
  });
  const startupMs = performance.now() - t0;
  const workers = /workers: ([0-9]+)/.exec(configYaml)?.[1];
  const tree = workers !== undefined && Number(workers) > 1;
  if (tree) await sleep(500); // every worker has bound the shared socket before the first run
  const bytes = countStdout(inst.proc);
  return {
    startupMs,
    inst,
    service: { name, origin: inst.url, pid: inst.proc.pid!, tree, stdoutBytes: bytes, stop: () => inst.stop() },
  };
}

const BARE = fileURLToPath(new URL('./bare-proxy.mjs', import.meta.url));

/** The bare proxy (plain JS, no loader); `undici: false` starts the idle node:http floor that never loads undici. */
export async function startBare(
  name: string,
  upstream: string,
  env: Record<string, string> = {},
  o: { undici?: boolean } = {},
): Promise<Service> {
  const args = [BARE, upstream, ...(o.undici === false ? ['--idle-no-undici'] : [])];
  const proc = spawnProc(name, process.execPath, args, { env, cwd: REPO_ROOT });
  const line = await waitFor(() => proc.stdoutLines().find((l) => l.startsWith('BARE_PORT ')), {
    what: `${name} port`,
    timeoutMs: 20_000,
    intervalMs: 20,
    procs: [proc],
  });
  const origin = `http://127.0.0.1:${line.slice(10)}`;
  return { name, origin, pid: proc.pid!, tree: false, stdoutBytes: () => 0, stop: () => proc.stop() };
}

/** Prometheus itself as a target: no proxy in between. */
export function directService(origin: string, pid: number): Service {
  return { name: 'direct', origin, pid, tree: false, stdoutBytes: () => 0, stop: async () => undefined };
}

/**
 * prom-label-proxy (Go) injecting one fixed label value, the way it is run as a per-workload sidecar:
 * `-label namespace -label-value <tenant>`, nothing else. Ready once its listener answers.
 */
export async function startLabelProxy(
  name: string,
  bin: string,
  upstream: string,
  label: string,
  value: string,
): Promise<Service> {
  const port = await freePort();
  const args = ['-insecure-listen-address', `127.0.0.1:${port}`, '-upstream', upstream];
  const proc = spawnProc(name, bin, [...args, '-label', label, '-label-value', value], { cwd: REPO_ROOT });
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await status(`${origin}/api/v1/query?query=up`)) === 200, {
    what: `${name} ready`,
    timeoutMs: 20_000,
    intervalMs: 20,
    procs: [proc],
  });
  return { name, origin, pid: proc.pid!, tree: false, stdoutBytes: () => 0, stop: () => proc.stop() };
}
