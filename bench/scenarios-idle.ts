// Scenario r: idle RSS of each target, started fresh — Node's floor (node:http alone, then with undici), promgate, prom-label-proxy.
import { join } from 'node:path';
import { REPO_ROOT } from '../test/e2e/harness/promgate.js';
import { sleep } from '../test/e2e/harness/wait.js';
import type { Scenario } from './context.js';
import { gatewayYaml } from './fixtures.js';
import { startBare, startGateway, startLabelProxy, status, type Service } from './processes.js';
import { rssMb } from './procstat.js';
import { fmt, type Row } from './table.js';

async function idleRss(start: () => Promise<Service>, probe: string | undefined, settleMs: number): Promise<number> {
  const s = await start();
  try {
    // One request first, as a sidecar that has served its first scrape: lazily loaded code is in.
    if (probe) await status(`${s.origin}${probe}`);
    await sleep(settleMs);
    return rssMb(s.pid, s.tree);
  } finally {
    await s.stop();
  }
}

/**
 * The targets start one after another on the same machine, each alone. The examples/quickstart.yaml config
 * (basic auth from a users file, one upstream) is the sidecar case; the bench config adds JWT. Target: promgate
 * idles within 10 MB of node:http + undici.
 */
export const scenarioR: Scenario = async (b) => {
  const up = b.stack.prom.url;
  const probe = '/api/v1/query?query=up';
  // examples/quickstart.yaml's shape: basic auth from examples/users.yaml, one upstream, the admin rule.
  const quickstart = (): string =>
    gatewayYaml({ upstream: up, usersFile: join(REPO_ROOT, 'examples/users.yaml'), rules: b.creds.smallRules });
  const rows: [string, number][] = [];
  const measureOne = async (name: string, start: () => Promise<Service>, p: string | undefined = probe) => {
    // Left alone before the reading (start-up garbage collected, timers settled); shorter in the CI smoke run.
    const mb = await idleRss(start, p, b.o.quick ? 500 : 2000);
    b.progress(`[r] ${name.padEnd(34)} idle RSS ${mb.toFixed(1)} MB`);
    rows.push([name, mb]);
    return mb;
  };
  const nodeOnly = await measureOne('node:http', () => startBare('idle-node', up, {}, { undici: false }), undefined);
  const floor = await measureOne('node:http + undici', () => startBare('idle-undici', up));
  const gw = async (entry?: string, yaml = quickstart()) =>
    (await startGateway('idle-promgate', yaml, b.gatewayEnv, entry)).service;
  const pg = await measureOne('promgate (quickstart: basic auth)', () => gw());
  const bench = gatewayYaml({
    upstream: up,
    usersFile: b.creds.smallUsersFile,
    jwksFile: b.creds.jwksFile,
    rules: b.creds.smallRules,
  });
  if (!b.o.quick) await measureOne('promgate (bench: basic + JWT)', () => gw(undefined, bench));
  const base = b.baselineDir
    ? await measureOne('baseline promgate (quickstart)', () => gw(join(b.baselineDir!, 'dist/cli/main.js')))
    : undefined;
  const peer = b.peerBin
    ? await measureOne('prom-label-proxy', () => startLabelProxy('idle-plp', b.peerBin!, up, 'namespace', 'team-a'))
    : undefined;
  const row: Row = {
    id: 'r',
    title: 'idle RSS, fresh process after one request',
    rssMb: pg,
    rssBare: floor,
    rssPeer: peer,
    errors: 0,
    checks: [{ what: `idle RSS ≤ node+undici + 10 MB (${fmt(pg - floor, 1)} MB over)`, ok: pg <= floor + 10 }],
    notes: [
      rows.map(([n, mb]) => `${n} ${fmt(mb, 1)} MB`).join('; '),
      `node:http alone ${fmt(nodeOnly, 1)} MB; undici adds ${fmt(floor - nodeOnly, 1)} MB${base !== undefined ? `; baseline build ${fmt(base, 1)} MB` : ''}`,
    ],
  };
  return [row];
};
