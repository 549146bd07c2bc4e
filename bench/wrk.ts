// Runs wrk (a separate process) with a Lua script that cycles request paths and prints one JSON summary line.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WRK_BIN = process.env.PROMGATE_BENCH_WRK ?? '/usr/bin/wrk';

export interface WrkRun {
  /** Origin, e.g. http://127.0.0.1:9090. */
  origin: string;
  /** File with one request path (path + query) per line; requests cycle through it. */
  pathsFile: string;
  headers?: Record<string, string>;
  connections: number;
  threads?: number;
  /** Whole seconds (wrk takes no fractions); at least 1. */
  seconds: number;
  timeoutSeconds?: number;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  bytes: number;
  /** Latency percentiles in ms. */
  p50: number;
  p99: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx answers (wrk counts status > 399). */
  errors: number;
}

const LUA = `
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local n, i = #paths, 0
local threads = 0
function setup(thread) thread:set("offset", threads * 7919); threads = threads + 1 end
function init(args) i = (offset or 0) % n end
function request() i = i % n + 1; return wrk.format(nil, paths[i]) end
function done(s, lat, req)
  local e = s.errors
  io.write(string.format('WRKJSON {"requests":%d,"us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d}\\n',
    s.requests, s.duration, s.bytes, e.connect, e.read, e.write, e.status, e.timeout, lat:percentile(50), lat:percentile(99)))
end
`;

let scriptPath: string | undefined;

/** Writes the shared Lua script into `dir` (once per bench run). */
export function installWrkScript(dir: string): void {
  scriptPath = join(dir, 'bench.lua');
  writeFileSync(scriptPath, LUA);
}

/** Writes a paths file and returns its name. */
export function writePaths(dir: string, name: string, paths: readonly string[]): string {
  const file = join(dir, `${name}.paths`);
  writeFileSync(file, paths.join('\n') + '\n');
  return file;
}

export function runWrk(r: WrkRun): Promise<WrkResult> {
  if (!scriptPath) throw new Error('installWrkScript() first');
  const threads = Math.max(1, Math.min(r.threads ?? 1, r.connections));
  const args = [
    '-t',
    String(threads),
    '-c',
    String(r.connections),
    '-d',
    `${Math.max(1, Math.round(r.seconds))}s`,
    '--timeout',
    `${r.timeoutSeconds ?? 10}s`,
    '-s',
    scriptPath,
  ];
  for (const [k, v] of Object.entries(r.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(r.origin + '/');
  return new Promise((resolve, reject) => {
    const child = spawn(WRK_BIN, args, {
      env: { ...process.env, WRK_PATHS: r.pathsFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || !line) {
        reject(new Error(`wrk exited ${code}: ${err || out}`));
        return;
      }
      const j = JSON.parse(line.slice(8)) as Record<string, number>;
      const seconds = j.us! / 1e6;
      resolve({
        requests: j.requests!,
        seconds,
        rps: j.requests! / seconds,
        bytes: j.bytes!,
        p50: j.p50! / 1000,
        p99: j.p99! / 1000,
        errors: j.connect! + j.read! + j.write! + j.status! + j.timeout!,
      });
    });
  });
}
