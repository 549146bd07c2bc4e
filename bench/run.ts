// `npm run bench`: real Prometheus, promgate and a bare proxy side by side under wrk; prints one row per scenario.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir } from '../test/e2e/harness/cleanup.js';
import { PROMGATE_ENTRY, REPO_ROOT } from '../test/e2e/harness/promgate.js';
import { startStack } from '../test/e2e/harness/stack.js';
import type { Bench, Scenario } from './context.js';
import { gatewayYaml, makeCredentials } from './fixtures.js';
import { parseOptions, USAGE, type ScenarioId } from './options.js';
import { directService, startBare, startGateway, startLabelProxy } from './processes.js';
import { findLabelProxy } from './peer.js';
import { TENANT_NS } from './fixtures.js';
import { scenarioR } from './scenarios-idle.js';
import { machine } from './procstat.js';
import { scenarioA, scenarioB, scenarioC, scenarioG, scenarioL, scenarioW } from './scenarios-auth.js';
import { scenarioF, scenarioH } from './scenarios-big.js';
import { scenarioD, scenarioE, scenarioI } from './scenarios-load.js';
import { renderTable, type Row } from './table.js';
import { installWrkScript, WRK_BIN } from './wrk.js';

const SCENARIOS: Record<ScenarioId, Scenario> = {
  r: scenarioR,
  a: scenarioA,
  b: scenarioB,
  c: scenarioC,
  d: scenarioD,
  e: scenarioE,
  f: scenarioF,
  g: scenarioG,
  h: scenarioH,
  i: scenarioI,
  w: scenarioW,
  l: scenarioL,
};

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** The bench runs the built CLI; build it when it is missing or older than the sources. */
function ensureBuilt(progress: (m: string) => void): void {
  if (existsSync(PROMGATE_ENTRY) && statSync(PROMGATE_ENTRY).mtimeMs >= newest(join(REPO_ROOT, 'src'))) return;
  progress('building dist/ (tsc) ...');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('build failed');
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  if (!existsSync(WRK_BIN))
    throw new Error(`wrk not found at ${WRK_BIN} (apt-get install wrk, or set PROMGATE_BENCH_WRK)`);
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(3)}s`;
  const progress = (m: string) => process.stderr.write(`${elapsed()} ${m}\n`);
  ensureBuilt(progress);
  const dir = makeTempDir('bench');
  installWrkScript(dir.path);
  const cleanup: (() => Promise<unknown>)[] = [];
  const rows: Row[] = [];
  try {
    progress(`starting Prometheus with ${o.benchSeries} bench_series series`);
    const dataSince = Math.floor(Date.now() / 1000);
    const [stack, creds] = await Promise.all([
      startStack({ benchSeries: o.benchSeries, timeoutMs: 60_000 }),
      makeCredentials(dir.path, o.users, o.policyRules),
    ]);
    cleanup.push(() => stack.stop());
    const env: Record<string, string> = o.nodeOptions ? { NODE_OPTIONS: o.nodeOptions } : {};
    const gw = await startGateway(
      'promgate',
      gatewayYaml({
        upstream: stack.prom.url,
        usersFile: creds.smallUsersFile,
        jwksFile: creds.jwksFile,
        rules: creds.smallRules,
      }),
      env,
    );
    cleanup.push(() => gw.service.stop());
    const bare = await startBare('bare', stack.prom.url);
    cleanup.push(() => bare.stop());
    let baseline: Bench['baseline'];
    if (o.baseline) {
      const entry = resolve(o.baseline, 'dist/cli/main.js');
      if (!existsSync(entry)) throw new Error(`--baseline ${o.baseline}: ${entry} not found (build that tree first)`);
      const yaml = gatewayYaml({
        upstream: stack.prom.url,
        usersFile: creds.smallUsersFile,
        jwksFile: creds.jwksFile,
        rules: creds.smallRules,
      });
      baseline = (await startGateway('baseline', yaml, env, entry)).service;
      cleanup.push(() => baseline!.stop());
    }
    let peer: Bench['peer'];
    const wantsPeer = o.peer && o.scenarios.some((s) => 'rabcde'.includes(s));
    const found = wantsPeer ? findLabelProxy(o.quick, progress) : { why: '--no-peer' };
    if (found.bin) {
      peer = await startLabelProxy('prom-label-proxy', found.bin, stack.prom.url, 'namespace', TENANT_NS);
      cleanup.push(() => peer!.stop());
    } else progress(`prom-label-proxy left out: ${found.why}`);
    const b: Bench = {
      o,
      dir,
      creds,
      stack,
      dataSince,
      bare,
      cleanup,
      progress,
      direct: directService(stack.prom.url, stack.prom.proc.pid!),
      gateway: gw.service,
      gatewayStartupMs: gw.startupMs,
      baseline,
      baselineDir: o.baseline ? resolve(o.baseline) : undefined,
      gatewayEnv: env,
      peer,
      peerBin: found.bin,
    };
    progress(
      `ready: prometheus ${stack.prom.url}, promgate ${gw.service.origin} (healthy after ${gw.startupMs.toFixed(0)} ms), bare ${bare.origin}`,
    );
    for (const id of o.scenarios) {
      progress(`scenario ${id}`);
      rows.push(...(await SCENARIOS[id](b)));
    }
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
    dir.remove();
  }
  const m = machine();
  console.log(
    `\npromgate bench — ${new Date().toISOString()} — node ${process.version} — ${m.cpus} CPUs (${m.model}), ${m.ramGb} GB RAM`,
  );
  console.log(
    `${o.quick ? 'quick run' : 'full run'}: ${o.rounds} round(s), ${o.seconds} s loaded runs at ${o.connections} connections + ${o.latencySeconds} s 1-connection latency runs; medians; ${o.benchSeries} bench_series series; took ${elapsed().trim()}\n`,
  );
  if (o.baseline) console.log(`rows marked [baseline] (ids like d0): the promgate built in ${resolve(o.baseline)}\n`);
  console.log(renderTable(rows));
  const errors = rows.reduce((s, r) => s + r.errors, 0);
  if (errors > 0) console.log(`\n${errors} request(s) failed`);
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(2);
  },
);
