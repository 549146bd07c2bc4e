// Many clusters behind one sign-in, in a real Chromium: two real Prometheus servers (east, west) under their
// cluster paths behind one promgate with OIDC sign-in and basic auth; the portal lists exactly the routes a
// person may open; the Prometheus UI under /clusters/east/prometheus/ runs a query that shows only the tenant's
// series, every API call it makes goes through promgate and is enforced, and the pages that print cross-tenant
// data stay refused. Also: the portal's accessibility (axe-core), phone width, keyboard focus and screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PNG } from 'pngjs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  makeTempDir,
  promgateBuilt,
  promQuery,
  REPO_ROOT,
  reservePort,
  startClusters,
  startPromgate,
  TENANTS,
  accessLines as accessLinesOf,
  apiAccessLines,
  type AccessLine,
  type Clusters,
  type PrometheusInstance,
  type PromgateProc,
  type TempDir,
} from './harness/index.js';
import { startOidcProvider, type OidcProviderFixture } from './harness/oidc-provider.js';
import { chromiumAvailable, launchChromium } from './harness/browser.js';
import { waitFor } from '../helpers/wait.js';

const skip = !promgateBuilt()
  ? 'build first: npx tsc -p tsconfig.json'
  : !chromiumAvailable()
    ? 'no /usr/bin/chromium'
    : false;

const EAST = '/clusters/east/prometheus';
const WEST = '/clusters/west/prometheus';
const QUERY = 'sum by (job, namespace) (http_requests_total)';
/** The server-rendered pages of Prometheus 2.42 that print every tenant's data (targets, config, flags, …). */
const CROSS_TENANT_PAGES = [
  '/classic/targets',
  '/classic/service-discovery',
  '/classic/config',
  '/classic/flags',
  '/classic/status',
  '/classic/alerts',
  '/classic/rules',
  '/version',
  '/consoles/index.html',
];

let clusters: Clusters;
let east: PrometheusInstance;
let west: PrometheusInstance;
let idp: OidcProviderFixture;
let pg: PromgateProc;
let browser: Browser;
let tmp: TempDir;

before(async () => {
  if (skip) return;
  tmp = makeTempDir('portal-browser');
  // Prometheus and the IdP must know promgate's address before it starts.
  const held = await reservePort();
  const origin = `http://127.0.0.1:${held.port}`;
  writeFileSync(tmp.file('users.yaml'), 'users:\n  - username: carol\n    password: carol-pw\n    namespace: team-c\n');
  const started = await Promise.allSettled([
    // Two clusters with different data: each scrapes the tenants under its own job name.
    startClusters(origin).then((c) => {
      clusters = c;
      ({ east, west } = c);
    }),
    startOidcProvider({ redirectUris: [`${origin}/oauth2/callback`] }).then((p) => (idp = p)),
    launchChromium().then((b) => (browser = b)),
  ]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  const cfg = {
    server: { host: '127.0.0.1', port: held.port, logLevel: 'info', readyCheckInterval: '1s' },
    portal: { title: 'Clusters' },
    routes: [
      {
        name: 'east',
        prefix: EAST,
        description: 'Prometheus of the east cluster',
        link: `${EAST}/graph`,
        allowedGroups: ['team-a', 'team-b'],
        upstream: { url: east.base },
      },
      {
        name: 'west',
        prefix: WEST,
        description: 'Prometheus of the west cluster',
        allowedGroups: ['admins'],
        allowedUsers: ['carol'],
        upstream: { url: west.base },
      },
      { name: 'east-raw', prefix: '/raw/east', hidden: true, allowedGroups: ['admins'], upstream: { url: east.base } },
    ],
    auth: {
      basic: { usersFile: tmp.file('users.yaml') },
      oidc: {
        issuerUrl: idp.issuer,
        clientId: idp.clients.basic.clientId,
        clientSecret: idp.clients.basic.clientSecret,
        insecure: true,
        cookie: { secret: randomBytes(32).toString('base64'), secure: false },
      },
    },
    tenants: {
      rules: [
        { match: { groups: ['team-a'] }, labels: { namespace: 'team-a' } },
        { match: { groups: ['team-b'] }, labels: { namespace: 'team-b' } },
      ],
    },
  };
  await held.release();
  pg = await startPromgate({ port: held.port, configYaml: stringify(cfg) });
  // Every upstream probed: the portal's health is "up", not "unknown".
  await waitFor(async () => (await fetch(`${pg.url}/-/ready`)).status === 200, {
    what: 'promgate ready',
    procs: [pg.proc],
  });
});

after(async () => {
  await browser?.close();
  await pg?.stop();
  await idp?.close();
  await clusters?.stop();
  tmp?.remove();
});

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await page.locator('#submit').click();
}

/** Signs in from the portal and returns on it; every request the page makes is recorded. */
async function openPortal(ctx: BrowserContext, user: string): Promise<{ page: Page; requests: string[] }> {
  const page = await ctx.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${pg.url}/`);
  assert.ok(page.url().startsWith(`${idp.issuer}/interaction/`), `anonymous → the provider's form: ${page.url()}`);
  assert.ok(
    requests.some((u) => u === `${pg.url}/oauth2/start?rd=%2F`),
    `went through /oauth2/start with rd=/: ${requests.join(' ')}`,
  );
  await signIn(page, user, `${user}-pw`);
  await page.waitForURL(`${pg.url}/`, { timeout: 15_000 });
  return { page, requests };
}

const cardNames = (page: Page) => page.locator('ul.cards > li h2').allInnerTexts();

/** The promgate access-log lines, by path (the JSON lines on its stdout). */
const accessLines = (): AccessLine[] => accessLinesOf(pg);

/** Distinct colours of a PNG, and the share of pixels that are not the most common colour. */
function pngStats(file: string): { colours: number; busy: number } {
  const png = PNG.sync.read(readFileSync(file));
  const counts = new Map<number, number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const c = png.data.readUInt32BE(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const total = png.width * png.height;
  return { colours: counts.size, busy: 1 - Math.max(...counts.values()) / total };
}

test(
  'portal: sign in, the routes of the group and no others, identity and tenant, a screenshot that is not blank, sign out',
  { skip },
  async () => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    try {
      const { page } = await openPortal(ctx, 'alice');
      // alice (team-a, admins): east and west; east-raw is hidden.
      assert.deepEqual(await cardNames(page), ['east', 'west']);
      assert.equal(await page.locator('#user').innerText(), 'alice');
      const who = await page.locator('section.who').innerText();
      assert.match(who, /alice@example\.com/);
      assert.match(who, /team-a/);
      assert.match(who, /admins/);
      const eastCard = page.locator('ul.cards > li', { has: page.locator('h2', { hasText: /^east$/ }) });
      assert.match(await eastCard.innerText(), /namespace="team-a"/);
      assert.match(await eastCard.innerText(), /Prometheus of the east cluster/);
      // Health: the readiness probe of each cluster.
      assert.equal(await page.locator('ul.cards .badge.up').count(), 2, 'both clusters are up');

      // The same data for scripts, with the browser's session.
      const json = (await page.evaluate(async () => (await fetch('/portal.json')).json()).catch(() => null)) as null;
      // The page's CSP (default-src 'none') forbids fetch() from it, as it should; scripts use their own client.
      assert.equal(json, null, "the portal page's CSP blocks fetch()");

      // Screenshot for the docs: written with PROMGATE_UPDATE_SCREENSHOT=1, otherwise into the temp dir.
      const update = process.env.PROMGATE_UPDATE_SCREENSHOT === '1';
      const shot = update ? join(REPO_ROOT, 'docs/img/portal.png') : tmp.file('portal.png');
      await page.screenshot({ path: shot, fullPage: true });
      const stats = pngStats(shot);
      assert.ok(stats.colours > 50, `a rendered page has many colours (anti-aliased text): ${stats.colours}`);
      assert.ok(stats.busy > 0.05, `more than background: ${(stats.busy * 100).toFixed(1)}% of pixels`);

      // Sign out: the session ends at promgate and at the provider; the portal asks for a sign-in again.
      await page.locator('#sign-out').click();
      await page.waitForURL((u) => u.href.startsWith(`${idp.issuer}/session/end`), { timeout: 10_000 });
      assert.deepEqual(
        (await ctx.cookies(pg.url)).filter((c) => c.name.startsWith('_oauth2_proxy')),
        [],
        'session cookies deleted',
      );
      await page.locator('button[value="yes"]').click();
      await page.waitForLoadState('load');
      await page.goto(`${pg.url}/`);
      assert.ok(page.url().startsWith(`${idp.issuer}/interaction/`), `signed out: ${page.url()}`);
    } finally {
      await ctx.close();
    }
  },
);

test('portal: another group sees another set; basic auth and portal.json for scripts', { skip }, async () => {
  const ctx = await browser.newContext();
  try {
    const { page } = await openPortal(ctx, 'bob');
    assert.deepEqual(await cardNames(page), ['east'], 'bob (team-b) may open east only');
    assert.match(await page.locator('ul.cards > li').first().innerText(), /namespace="team-b"/);
    assert.equal(await page.getByText('west').count(), 0);
  } finally {
    await ctx.close();
  }
  const basic = { authorization: `Basic ${Buffer.from('carol:carol-pw').toString('base64')}` };
  const r = await fetch(`${pg.url}/portal.json`, { headers: basic });
  assert.equal(r.status, 200);
  const v = (await r.json()) as { user: { user: string; method: string }; signOut?: string; routes: unknown[] };
  assert.equal(v.user.user, 'carol');
  assert.equal(v.user.method, 'basic');
  assert.equal(v.signOut, undefined);
  assert.deepEqual(v.routes, [
    {
      name: 'west',
      description: 'Prometheus of the west cluster',
      link: `${WEST}/`,
      tenant: { unrestricted: false, matchers: ['namespace="team-c"'] },
      health: { state: 'up', detail: 'HTTP 200' },
    },
  ]);
  const anon = await fetch(`${pg.url}/portal.json`);
  assert.equal(anon.status, 401);
  assert.equal(((await anon.json()) as { code: string }).code, 'PG_AUTHN_REQUIRED');
});

test('portal: axe-core finds no violation; the page fits a phone; keyboard focus is visible', { skip }, async () => {
  // The audit injects axe-core, a script the portal's CSP rightly refuses: this context bypasses CSP for the audit only.
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 375, height: 740 } });
  try {
    const { page } = await openPortal(ctx, 'alice');
    const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    await page.addScriptTag({ content: readFileSync(axePath, 'utf8') });
    const result = (await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(o: unknown): Promise<unknown> } }).axe;
      return axe.run({
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      });
    })) as { violations: { id: string; help: string; nodes: { target: string[] }[] }[]; passes: { id: string }[] };
    assert.deepEqual(
      result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
      [],
    );
    // The audit did look at what the issue names: contrast, labels/names of links, landmarks, lang.
    const passed = new Set(result.passes.map((p) => p.id));
    for (const rule of [
      'color-contrast',
      'link-name',
      'landmark-one-main',
      'region',
      'html-has-lang',
      'page-has-heading-one',
    ])
      assert.ok(passed.has(rule), `axe rule ${rule} ran and passed`);
    // A phone: nothing wider than the screen.
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(width <= 375, `no horizontal scrolling at 375 px: ${width}`);
    // The keyboard reaches the links and shows where it is.
    await page.keyboard.press('Tab');
    const focus = (await page.evaluate(`(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return { tag: el.tagName, outline: s.outlineStyle, width: s.outlineWidth };
    })()`)) as { tag: string; outline: string; width: string };
    assert.equal(focus.tag, 'A');
    assert.equal(focus.outline, 'solid');
    assert.equal(focus.width, '3px');
  } finally {
    await ctx.close();
  }
});

test(
  "Prometheus UI under /clusters/east/prometheus/: the portal's link, the graph page through promgate, the tenant's series only, every API call enforced",
  { skip },
  async () => {
    // The oracle can fail: straight at Prometheus, the same query sees every tenant.
    const direct = await promQuery(east.base, QUERY);
    assert.deepEqual(direct.map((s) => s.metric.namespace).sort(), [...TENANTS].sort());
    const ctx = await browser.newContext();
    try {
      const { page, requests } = await openPortal(ctx, 'alice');
      const responses = new Map<string, number>();
      page.on('response', (r) => responses.set(r.url(), r.status()));
      const logStart = accessLines().length;
      // Follow the card's link: /graph of Prometheus 2.42 (Debian's build has the classic UI only) goes on to
      // /classic/graph, and every redirect stays on promgate.
      requests.length = 0;
      await page.getByRole('link', { name: /^Open east/ }).click();
      // (The UI writes its state into the query string once loaded.)
      await page.waitForURL((u) => u.origin + u.pathname === `${pg.url}${EAST}/classic/graph`, { timeout: 15_000 });
      await page.locator('textarea.expression_input').first().fill(QUERY);
      await page.locator('input.execute_btn').first().click();
      // The console (table) tab is the default: one row per series.
      const rows = page.locator('.console_table tbody tr');
      await page.getByText('namespace="team-a"').first().waitFor({ timeout: 15_000 });
      const text = await page.locator('.console_table').first().innerText();
      assert.match(text, /job="east"/);
      for (const ns of TENANTS.filter((t) => t !== 'team-a')) assert.ok(!text.includes(`"${ns}"`), `no ${ns}`);
      assert.ok(!text.includes('job="west"'), "east's data, not west's");
      assert.ok((await rows.count()) >= 1);

      // The graph tab draws the same series only (its legend).
      await page.getByRole('tab', { name: 'Graph' }).first().click();
      await page.locator('.legend .line').first().waitFor({ timeout: 15_000 });
      const legend = await page.locator('.legend').first().innerText();
      assert.match(legend, /team-a/);
      for (const ns of TENANTS.filter((t) => t !== 'team-a')) assert.ok(!legend.includes(ns), `legend: no ${ns}`);

      // Every request the page made went to promgate; every API call is in promgate's log, enforced for team-a.
      const off = requests.filter((u) => !u.startsWith(pg.url + '/') && !u.startsWith('data:'));
      assert.deepEqual(off, [], 'nothing loaded from elsewhere (not from Prometheus directly)');
      const api = requests.filter((u) => new URL(u).pathname.startsWith(`${EAST}/api/`));
      assert.ok(
        api.some((u) => u.includes('/api/v1/query')),
        `the page queried: ${api.join(' ')}`,
      );
      const assets = requests.filter((u) => new URL(u).pathname.startsWith(`${EAST}/classic/static/`));
      assert.ok(assets.length >= 5, 'its assets came through promgate');
      for (const u of assets) assert.equal(responses.get(u), 200, `asset ${u}`);
      // Each API request the browser made has its access-log line (written when the response closed).
      const lines = await apiAccessLines(pg, requests, EAST, logStart);
      for (const line of lines) {
        assert.equal(line.route, 'east', line.path);
        assert.ok(line.tenant, `${line.path} ran as a tenant`);
        assert.ok(line.status < 500, `${line.path}: ${line.status}`);
      }
      // The user's query reached Prometheus with the tenant's matcher written in.
      const mine = lines.filter((l) => (l.query ?? '').includes('http_requests_total'));
      assert.ok(mine.length >= 2, 'the console query and the graph query');
      for (const l of mine) assert.match(l.query!, /http_requests_total\{namespace="team-a"\}/, l.query);

      // The same page on /classic/graph directly, with the expression in the URL (the classic UI's own link form).
      await page.goto(`${pg.url}${EAST}/classic/graph?g0.expr=${encodeURIComponent(QUERY)}&g0.tab=1`);
      await page.getByText('namespace="team-a"').first().waitFor({ timeout: 15_000 });
      assert.equal(await page.getByText('namespace="team-b"').count(), 0);
    } finally {
      await ctx.close();
    }
  },
);

test(
  'Prometheus UI under a path: pages that print cross-tenant data stay refused; /query is not a 2.42 page',
  { skip },
  async () => {
    const basic = { authorization: `Basic ${Buffer.from('carol:carol-pw').toString('base64')}` };
    for (const p of CROSS_TENANT_PAGES) {
      // Straight at Prometheus the page exists (so the refusal is promgate's), except what 2.42 does not have.
      const direct = await fetch(`${west.base}${p}`);
      if (p !== '/consoles/index.html') assert.equal(direct.status, 200, `direct ${p}`);
      const r = await fetch(`${pg.url}${WEST}${p}`, { headers: basic });
      assert.equal(r.status, 404, `${p} through promgate`);
      assert.equal(((await r.text()).match(/job="west"|team-/g) ?? []).length, 0);
    }
    const status = await fetch(`${pg.url}${WEST}/api/v1/status/config`, { headers: basic });
    assert.equal(status.status, 403);
    // /graph goes on to /classic/graph, all on promgate; /query is Prometheus 3's page (404 from 2.42 itself).
    const graph = await fetch(`${pg.url}${WEST}/graph`, { headers: basic, redirect: 'manual' });
    assert.equal(graph.status, 301);
    assert.equal(graph.headers.get('location'), `${WEST}/graph/`);
    const query = await fetch(`${pg.url}${WEST}/query`, { headers: basic });
    assert.equal(query.status, 404);
    assert.equal(await (await fetch(`${west.base}/query`)).text(), '404 page not found\n');
  },
);
