// The new Prometheus UI (Prometheus 3's React/Mantine pages: /query, /graph, /alerts, …) under a cluster's path, in a
// real Chromium, through promgate. Debian's prometheus (2.42) has only the classic UI (portal-browser.test.ts covers
// /classic/graph), so this file runs a Prometheus 3.16 built once by scripts/prometheus3.sh (Go module + its UI
// from the npm registry; cached in ~/.cache/promgate). Two ways of mounting a Prometheus under a path are covered:
//   east: --web.external-url=<promgate>/clusters/east/prometheus/ (so --web.route-prefix follows it); the route has
//         stripPrefix: false and the upstream's origin, so Prometheus sees the whole path;
//   west: the same external URL with --web.route-prefix=/ ; the route strips its prefix (the default).
// The query page loads its assets through promgate, runs a query and shows (table) and draws (graph) only the
// tenant's series; every API call it makes is in promgate's access log as that tenant; the APIs behind the pages
// that print cross-tenant data (config, flags, runtime info, TSDB status, scrape pools, relabel steps, …) are
// refused, while Prometheus itself would answer them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  accessLines as accessLinesOf,
  apiAccessLines,
  makeTempDir,
  promgateBuilt,
  promQuery,
  REPO_ROOT,
  reservePort,
  startClusters,
  startPromgate,
  TENANTS,
  type AccessLine,
  type Clusters,
  type PrometheusInstance,
  type PromgateProc,
  type TempDir,
} from './harness/index.js';
import { chromiumAvailable, launchChromium } from './harness/browser.js';

// Builds Prometheus 3 on the first run (minutes; scripts/ensure-deps.sh does it before the suite), then cached.
const tools = promgateBuilt()
  ? spawnSync('bash', [join(REPO_ROOT, 'scripts/prometheus3.sh')], { encoding: 'utf8', timeout: 3_600_000 })
  : undefined;
const PROMETHEUS3 = /^PROMETHEUS3=(.*)$/m.exec(tools?.stdout ?? '')?.[1] ?? '';
// Only a missing Go toolchain skips; a failed build fails the tests below (before() throws with its output).
const skip = !promgateBuilt()
  ? 'build first: npx tsc -p tsconfig.json'
  : !chromiumAvailable()
    ? 'no /usr/bin/chromium'
    : tools?.status === 3
      ? `skipped: ${tools.stderr.trim()}`
      : false;

const EAST = '/clusters/east/prometheus';
const WEST = '/clusters/west/prometheus';
const QUERY = 'sum by (job, namespace) (http_requests_total)';
const ALICE = { username: 'alice', password: 'alice-pw' }; // team-a

/**
 * APIs the new UI calls whose answers describe the whole server (every tenant's scrape config, targets' relabelling,
 * flags, TSDB cardinality by metric and label, …): refused through promgate, answered by Prometheus itself.
 */
const CROSS_TENANT_APIS = [
  '/api/v1/status/config',
  '/api/v1/status/flags',
  '/api/v1/status/runtimeinfo',
  '/api/v1/status/tsdb',
  '/api/v1/status/walreplay',
  '/api/v1/alertmanagers',
  '/api/v1/scrape_pools',
  '/api/v1/targets/relabel_steps?scrapePool=east&labels=%7B%7D',
  '/api/v1/notifications',
];

let clusters: Clusters;
let east: PrometheusInstance;
let west: PrometheusInstance;
let pg: PromgateProc;
let browser: Browser;
let tmp: TempDir;

before(async () => {
  if (skip) return;
  assert.equal(tools?.status, 0, `scripts/prometheus3.sh failed:\n${tools?.stderr}`);
  tmp = makeTempDir('prometheus-ui-v3');
  const held = await reservePort();
  const origin = `http://127.0.0.1:${held.port}`;
  writeFileSync(
    tmp.file('users.yaml'),
    'users:\n  - username: alice\n    password: alice-pw\n    namespace: team-a\n' +
      '  - username: bob\n    password: bob-pw\n    namespace: team-b\n',
  );
  const started = await Promise.allSettled([
    startClusters(origin, { bin: PROMETHEUS3 }, { routePrefix: '/' }).then((c) => {
      clusters = c;
      ({ east, west } = c);
    }),
    launchChromium().then((b) => (browser = b)),
  ]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  const cfg = {
    server: { host: '127.0.0.1', port: held.port, logLevel: 'info' },
    routes: [
      { name: 'east', prefix: EAST, stripPrefix: false, upstream: { url: east.url } },
      { name: 'west', prefix: WEST, stripPrefix: true, upstream: { url: west.url } },
    ],
    auth: { basic: { usersFile: tmp.file('users.yaml') } },
  };
  await held.release();
  pg = await startPromgate({ port: held.port, configYaml: stringify(cfg) });
});

after(async () => {
  await browser?.close();
  await pg?.stop();
  await clusters?.stop();
  tmp?.remove();
});

const accessLines = (): AccessLine[] => accessLinesOf(pg);

/** A browser signed in as alice by basic auth; every request and response of its pages is recorded. */
async function aliceContext(): Promise<{ ctx: BrowserContext; requests: string[]; statuses: Map<string, number> }> {
  const ctx = await browser.newContext({ httpCredentials: { ...ALICE, send: 'always' } });
  const requests: string[] = [];
  const statuses = new Map<string, number>();
  ctx.on('request', (r) => requests.push(r.url()));
  ctx.on('response', (r) => statuses.set(r.url(), r.status()));
  return { ctx, requests, statuses };
}

/** The query page's result table: one row per series; returns its text once the tenant's row is there. */
async function tableText(page: Page): Promise<string> {
  const table = page.locator('table').first();
  await table.getByText('team-a').first().waitFor({ timeout: 20_000 });
  return table.innerText();
}

function assertOnlyTeamA(text: string, job: string, what: string): void {
  assert.match(text, /team-a/, what);
  for (const ns of TENANTS.filter((t) => t !== 'team-a')) assert.ok(!text.includes(ns), `${what}: no ${ns}`);
  for (const other of ['east', 'west'].filter((j) => j !== job)) {
    assert.ok(!text.includes(`"${other}"`), `${what}: ${job}'s data, not ${other}'s`);
  }
}

test(
  'Prometheus 3 UI under /clusters/east/prometheus/ (whole path forwarded): /graph leads to /query, the query shows and draws only the tenant, every API call enforced',
  { skip },
  async () => {
    // The oracle can fail: straight at Prometheus, the same query sees every tenant.
    const direct = await promQuery(east.base, QUERY);
    assert.deepEqual(direct.map((s) => s.metric.namespace).sort(), [...TENANTS].sort());
    const { ctx, requests, statuses } = await aliceContext();
    try {
      const page = await ctx.newPage();
      const logStart = accessLines().length;
      // /graph is the old address of the query page; Prometheus 3 sends it on to /query, on promgate.
      await page.goto(`${pg.url}${EAST}/graph`);
      await page.waitForURL((u) => u.origin + u.pathname === `${pg.url}${EAST}/query`, { timeout: 20_000 });
      // Type the query into the editor (CodeMirror) and run it; the table tab is the default.
      const editor = page.locator('.cm-content').first();
      await editor.click();
      await editor.fill(QUERY);
      await page.getByRole('button', { name: 'Execute' }).click();
      assertOnlyTeamA(await tableText(page), 'east', 'table');

      // The graph tab draws the same series only (its legend).
      await page.getByRole('tab', { name: 'Graph' }).click();
      const legend = page.locator('.u-legend').first();
      await legend.getByText('team-a').first().waitFor({ timeout: 20_000 });
      assertOnlyTeamA(await legend.innerText(), 'east', 'graph legend');

      // Every request the page made went to promgate; its assets came through it.
      const off = requests.filter((u) => !u.startsWith(pg.url + '/') && !u.startsWith('data:'));
      assert.deepEqual(off, [], 'nothing loaded from elsewhere (not from Prometheus directly)');
      const assets = requests.filter((u) => new URL(u).pathname.startsWith(`${EAST}/assets/`));
      assert.ok(assets.length >= 2, `its assets came through promgate: ${assets.join(' ')}`);
      for (const u of assets) assert.equal(statuses.get(u), 200, `asset ${u}`);

      // Each API request has its access-log line, as the tenant, on the east route; the ones promgate refused are
      // the shared server APIs only; the user's query reached Prometheus with the tenant's matcher written in.
      const lines = await apiAccessLines(pg, requests, EAST, logStart);
      for (const line of lines) {
        assert.equal(line.route, 'east', line.path);
        assert.equal(line.tenant, '{namespace="team-a"}', `${line.path} ran as the tenant`);
        assert.ok(line.status < 500, `${line.path}: ${line.status}`);
        if (line.status >= 400) {
          assert.ok(
            CROSS_TENANT_APIS.some((p) => line.path.startsWith(`${EAST}${p.split('?')[0]}`)),
            `${line.path} refused (${line.status}): only shared server APIs are`,
          );
        }
      }
      const mine = lines.filter((l) => (l.query ?? '').includes('http_requests_total'));
      assert.ok(mine.length >= 2, `the table query and the graph query: ${lines.map((l) => l.path).join(' ')}`);
      for (const l of mine) assert.match(l.query!, /http_requests_total\{namespace="team-a"\}/, l.query);
    } finally {
      await ctx.close();
    }
  },
);

test(
  'Prometheus 3 UI with --web.route-prefix=/ behind a route that strips its prefix: the query link form, the tenant only',
  { skip },
  async () => {
    const { ctx, requests, statuses } = await aliceContext();
    try {
      const page = await ctx.newPage();
      const logStart = accessLines().length;
      // The page's own link form (what "copy link" gives): the expression and the table tab in the URL.
      await page.goto(`${pg.url}${WEST}/query?g0.expr=${encodeURIComponent(QUERY)}&g0.tab=table`);
      assertOnlyTeamA(await tableText(page), 'west', 'table');
      const assets = requests.filter((u) => new URL(u).pathname.startsWith(`${WEST}/assets/`));
      assert.ok(assets.length >= 2, 'assets under the route prefix, through promgate');
      for (const u of assets) assert.equal(statuses.get(u), 200, `asset ${u}`);
      const lines = await apiAccessLines(pg, requests, WEST, logStart);
      assert.ok(lines.length >= 1);
      for (const l of lines) assert.equal(l.tenant, '{namespace="team-a"}', l.path);
      const mine = lines.filter((l) => (l.query ?? '').includes('http_requests_total'));
      assert.ok(mine.length >= 1, 'the query went through promgate');
      for (const l of mine) assert.match(l.query!, /http_requests_total\{namespace="team-a"\}/, l.query);
    } finally {
      await ctx.close();
    }
  },
);

test(
  "Prometheus 3 UI: the pages' APIs that print cross-tenant data are refused; the pages themselves show none of it",
  { skip },
  async () => {
    const auth = { authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` };
    for (const p of CROSS_TENANT_APIS) {
      // Straight at Prometheus 3 each one answers (so the refusal is promgate's).
      const direct = await fetch(`${east.base}${p}`);
      assert.equal(direct.status, 200, `direct ${p}: ${await direct.text()}`);
      for (const [prefix, name] of [
        [EAST, 'east'],
        [WEST, 'west'],
      ] as const) {
        const r = await fetch(`${pg.url}${prefix}${p}`, { headers: auth });
        assert.ok(r.status === 403 || r.status === 404, `${name} ${p} through promgate: ${r.status}`);
        const body = (await r.json()) as { status: string; errorType: string; error: string };
        assert.equal(body.status, 'error', p);
        assert.ok(body.errorType && body.error, p);
      }
    }
    // The config page asks for the config and shows none of it: not the scrape path, not another job.
    const { ctx } = await aliceContext();
    try {
      const page = await ctx.newPage();
      const refused = page.waitForResponse((r) => r.url().endsWith(`${EAST}/api/v1/status/config`));
      await page.goto(`${pg.url}${EAST}/config`);
      assert.equal((await refused).status(), 403);
      // The page says why it has nothing to show: promgate's refusal, passed on by the UI.
      await page.getByText('Error querying page data').waitFor({ timeout: 20_000 });
      const text = await page.locator('body').innerText();
      assert.match(text, /this endpoint is refused/);
      assert.ok(!text.includes(east.metricsPath), 'no scrape config on the page');
      assert.ok(!text.includes('scrape_configs'), 'no config on the page');
    } finally {
      await ctx.close();
    }
  },
);
