// `npm run bench`: real Prometheus, promgate and a bare proxy side by side under wrk; prints one row per scenario.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../test/e2e/harness/cleanup.js';
import { PROMGATE_ENTRY, REPO_ROOT } from '../test/e2e/harness/promgate.js';
import { startStack } from '../test/e2e/harness/stack.js';
import type { Bench, Scenario } from './context.js';
import { gatewayYaml, makeCredentials } from './fixtures.js';
import { parseOptions, USAGE, type ScenarioId } from './options.js';
import { directService, startBare, startGateway } from './processes.js';
import { machine } from './procstat.js';
import { scenarioA, scenarioB, scenarioC, scenarioG, scenarioL, scenarioW } from './scenarios-auth.js';
import { scenarioF, scenarioH } from './scenarios-big.js';
import { scenarioD, scenarioE, scenarioI } from './scenarios-load.js';
import { renderTable, type Row } from './table.js';
import { installWrkScript, WRK_BIN } from './wrk.js';

const SCENARIOS: Record<ScenarioId, Scenario> = {
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
