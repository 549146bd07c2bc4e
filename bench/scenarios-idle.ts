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
 * The targets start one after another on the same machine, each alone, in rounds (5 in a full run): one idle reading
 * is one sample of when V8 last collected and how far its young generation had grown, and moves by up to 10 MB
 * between starts of the same process, so each target's figure is the median of its rounds, with the range beside
 * it. The examples/quickstart.yaml config (basic auth from a users file, one upstream) is the sidecar case; the
 * bench config adds JWT. Target: promgate idles within 10 MB of node:http + undici.
 */
export const scenarioR: Scenario = async (b) => {
  const up = b.stack.prom.url;
  const probe = '/api/v1/query?query=up';
  // examples/quickstart.yaml's shape: basic auth from examples/users.yaml, one upstream, the admin rule.
  const quickstart = (): string =>
    gatewayYaml({ upstream: up, usersFile: join(REPO_ROOT, 'examples/users.yaml'), rules: b.creds.smallRules });
  const gw = async (entry?: string, yaml = quickstart()) =>
    (await startGateway('idle-promgate', yaml, b.gatewayEnv, entry)).service;
  const bench = gatewayYaml({
    upstream: up,
    usersFile: b.creds.smallUsersFile,
    jwksFile: b.creds.jwksFile,
    rules: b.creds.smallRules,
  });
  const targets: { name: string; start: () => Promise<Service>; probe?: string }[] = [
    { name: 'node:http', start: () => startBare('idle-node', up, {}, { undici: false }) },
    { name: 'node:http + undici', start: () => startBare('idle-undici', up), probe },
    { name: 'promgate (quickstart: basic auth)', start: () => gw(), probe },
  ];
  if (!b.o.quick) targets.push({ name: 'promgate (bench: basic + JWT)', start: () => gw(undefined, bench), probe });
  if (b.baselineDir)
    targets.push({
      name: 'baseline promgate (quickstart)',
      start: () => gw(join(b.baselineDir!, 'dist/cli/main.js')),
      probe,
    });
  if (b.peerBin)
    targets.push({
      name: 'prom-label-proxy',
      start: () => startLabelProxy('idle-plp', b.peerBin!, up, 'namespace', 'team-a'),
      probe,
    });
  const rounds = b.o.quick ? 1 : 5;
  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++)
    for (const t of targets) {
      // Left alone before the reading (start-up garbage collected, timers settled); shorter in the CI smoke run.
      const mb = await idleRss(t.start, t.probe, b.o.quick ? 500 : 2000);
      b.progress(`[r] round ${round + 1}: ${t.name.padEnd(34)} idle RSS ${mb.toFixed(1)} MB`);
      samples.get(t.name)!.push(mb);
    }
  const median = (name: string): number | undefined => {
    const v = [...(samples.get(name) ?? [])].sort((x, y) => x - y);
    return v.length ? v[(v.length - 1) >> 1] : undefined;
  };
  const nodeOnly = median('node:http')!;
  const floor = median('node:http + undici')!;
  const pg = median('promgate (quickstart: basic auth)')!;
  const base = median('baseline promgate (quickstart)');
  const peer = median('prom-label-proxy');
  const range = (name: string) => {
    const v = samples.get(name)!;
    return v.length > 1 ? ` (${fmt(Math.min(...v), 1)}–${fmt(Math.max(...v), 1)})` : '';
  };
  const row: Row = {
    id: 'r',
    title: `idle RSS, fresh process after one request${rounds > 1 ? `, median of ${rounds}` : ''}`,
    rssMb: pg,
    rssBare: floor,
    rssPeer: peer,
    errors: 0,
    checks: [{ what: `idle RSS ≤ node+undici + 10 MB (${fmt(pg - floor, 1)} MB over)`, ok: pg <= floor + 10 }],
    notes: [
      targets.map((t) => `${t.name} ${fmt(median(t.name)!, 1)} MB${range(t.name)}`).join('; '),
      `node:http alone ${fmt(nodeOnly, 1)} MB; undici adds ${fmt(floor - nodeOnly, 1)} MB${base !== undefined ? `; baseline build ${fmt(base, 1)} MB` : ''}`,
    ],
  };
  return [row];
};
