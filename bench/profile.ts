// CPU profiles of promgate and the bare proxy under one scenario's load, side by side per request (node --import tsx bench/profile.ts [a|b|c|d|e] [seconds]).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../test/e2e/harness/cleanup.js';
import { startStack } from '../test/e2e/harness/stack.js';
import { sleep, waitFor } from '../test/e2e/harness/wait.js';
import { gatewayYaml, makeCredentials } from './fixtures.js';
import { startBare, startGateway, type Service } from './processes.js';
import { cpuSeconds } from './procstat.js';
import { CHEAP_QUERY, DASHBOARD_QUERY, distinctQueries, queryPaths, timeVariants } from './queries.js';
import { installWrkScript, runWrk, writePaths } from './wrk.js';
import { mintSessionCookie, newCookieSecret, oidcConfig } from './session-cookie.js';

const HOOK = fileURLToPath(new URL('./cpu-prof-hook.cjs', import.meta.url));

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: Frame }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a src/ module, a package, a node: builtin, or V8's own buckets. */
function moduleOf(f: Frame): string {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/(.*)\.js$/.exec(f.url);
  if (own) return `src/${own[1]}`;
  return f.url.startsWith('node:') ? f.url : f.url.replace(/^.*\/bench\//, 'bench/');
}

/** Wall time on the main thread (idle excluded) per request, by module and by function, in µs. */
export function selfTimes(
  file: string,
  requests: number,
): { busy: number; mods: Map<string, number>; fns: Map<string, number> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const mods = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!;
    if (f.functionName === '(idle)') return;
    const t = (p.timeDeltas[i] ?? 0) / requests;
    const m = moduleOf(f);
    const fn = `${f.functionName || '(anonymous)'} ${m}:${f.lineNumber + 1}`;
    busy += t;
    mods.set(m, (mods.get(m) ?? 0) + t);
    fns.set(fn, (fns.get(fn) ?? 0) + t);
  });
  return { busy, mods, fns };
}

/** Rows of promgate's excess over bare, largest first. */
function diff(pg: Map<string, number>, bare: Map<string, number>, top: number): string[] {
  const keys = new Set([...pg.keys(), ...bare.keys()]);
  return [...keys]
    .map((k) => ({ k, pg: pg.get(k) ?? 0, bare: bare.get(k) ?? 0 }))
    .sort((x, y) => y.pg - y.bare - (x.pg - x.bare))
    .slice(0, top)
    .map(
      (r) =>
        `  ${(r.pg - r.bare).toFixed(1).padStart(6)}  ${r.pg.toFixed(1).padStart(6)}  ${r.bare.toFixed(1).padStart(6)}  ${r.k}`,
    );
}

interface Sampled {
  file: string;
  requests: number;
  rps: number;
  cpuUs: number;
}

/** Warm-up, then one profiled loaded run; the profile's file, and CPU µs/request from /proc for comparison. */
async function profileOne(
  s: Service,
  file: string,
  headers: Record<string, string>,
  seconds: number,
  profDir: string,
): Promise<Sampled> {
  const load = { origin: s.origin, pathsFile: file, headers, connections: 16 };
  await runWrk({ ...load, seconds: 2 });
  const before = new Set(readdirSync(profDir));
  process.kill(s.pid, 'SIGUSR2');
  await sleep(100);
  const cpu0 = cpuSeconds(s.pid);
  const w = await runWrk({ ...load, seconds });
  const cpu = cpuSeconds(s.pid) - cpu0;
  process.kill(s.pid, 'SIGUSR2');
  const out = await waitFor(() => readdirSync(profDir).find((f) => !before.has(f) && f.endsWith('.cpuprofile')), {
    what: `${s.name} cpu profile`,
    timeoutMs: 10_000,
  });
  return { file: join(profDir, out), requests: w.requests, rps: w.rps, cpuUs: (cpu * 1e6) / w.requests };
}

async function main(): Promise<void> {
  const scenario = process.argv[2] ?? 'a';
  const seconds = Number(process.argv[3] ?? 8);
  const top = Number(process.argv[4] ?? 30);
  const dir = makeTempDir('bench-profile');
  installWrkScript(dir.path);
  const profDir = mkdtempSync(join(tmpdir(), 'promgate-prof-'));
  const env = { NODE_OPTIONS: `--require ${HOOK}`, BENCH_PROF_DIR: profDir };
  const stack = await startStack({ benchSeries: 5000, timeoutMs: 60_000 });
  try {
    const creds = await makeCredentials(dir.path, 10, 2);
    const secret = newCookieSecret();
    const oidc = scenario === 'c' ? oidcConfig(secret) : undefined;
    const gw = await startGateway(
      'promgate',
      gatewayYaml({
        upstream: stack.prom.url,
        usersFile: creds.smallUsersFile,
        jwksFile: creds.jwksFile,
        rules: creds.smallRules,
        oidc,
      }),
      env,
    );
    const bare = await startBare('bare', stack.prom.url, env);
    // As in run.ts: distinct URLs, so coalescing does not hide the per-request cost.
    const p =
      scenario === 'e'
        ? queryPaths(distinctQueries(30_000, 7))
        : scenario === 'd'
          ? timeVariants(DASHBOARD_QUERY, 2000, { seconds: 3600, step: 15 })
          : timeVariants(CHEAP_QUERY, 2000);
    const headers: Record<string, string> =
      scenario === 'c'
        ? { cookie: await mintSessionCookie(secret) }
        : { authorization: scenario === 'b' ? creds.bearer : creds.basic };
    const pg = await profileOne(gw.service, writePaths(dir.path, 'pg', p.promgate), headers, seconds, profDir);
    const bp = await profileOne(bare, writePaths(dir.path, 'up', p.upstream), headers, seconds, profDir);
    await Promise.all([gw.service.stop(), bare.stop()]);
    const a = selfTimes(pg.file, pg.requests);
    const b = selfTimes(bp.file, bp.requests);
    console.log(`scenario ${scenario}; profiles: ${pg.file} ${bp.file}`);
    console.log(
      `promgate ${pg.rps.toFixed(0)} req/s, /proc CPU ${pg.cpuUs.toFixed(0)} µs/req, profiled main-thread busy ${a.busy.toFixed(0)} µs/req`,
    );
    console.log(
      `bare     ${bp.rps.toFixed(0)} req/s, /proc CPU ${bp.cpuUs.toFixed(0)} µs/req, profiled main-thread busy ${b.busy.toFixed(0)} µs/req`,
    );
    console.log(`(profiles include the sampler's own overhead; "native" is time in C++/syscalls, e.g. socket writes)`);
    console.log(
      `\nexcess over bare by module (µs/req: excess, promgate, bare):\n${diff(a.mods, b.mods, top).join('\n')}`,
    );
    console.log(`\nexcess over bare by function:\n${diff(a.fns, b.fns, top).join('\n')}`);
  } finally {
    await stack.stop();
    dir.remove();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
