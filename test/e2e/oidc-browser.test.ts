// A real Chromium signs in through a real OpenID provider to promgate in front of a real Prometheus, sees its tenant's data only, and signs out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  startStack,
  startPromgate,
  freePort,
  makeTempDir,
  promgateBuilt,
  type Stack,
  type PromgateProc,
  type TempDir,
} from './harness/index.js';
import { startOidcProvider, type OidcProviderFixture } from './harness/oidc-provider.js';
import { chromiumAvailable, launchChromium } from './harness/browser.js';

const skip = !promgateBuilt()
  ? 'build first: npx tsc -p tsconfig.json'
  : !chromiumAvailable()
    ? 'no /usr/bin/chromium'
    : false;

const QUERY = 'sum by (namespace) (http_requests_total)';
const API_PATH = `/api/v1/query?query=${encodeURIComponent(QUERY)}`;
const GRAPH_PATH = `/classic/graph?g0.expr=${encodeURIComponent(QUERY)}&g0.tab=1`;

let stack: Stack;
let idp: OidcProviderFixture;
let pg: PromgateProc;
let browser: Browser;
let tmp: TempDir;

before(async () => {
  if (skip) return;
  tmp = makeTempDir('oidc-browser');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // allSettled, not all: after() must be able to stop whatever did start when one of them fails.
  const started = await Promise.allSettled([
    startStack().then((s) => (stack = s)),
    startOidcProvider({ redirectUris: [`${origin}/oauth2/callback`] }).then((p) => (idp = p)),
    launchChromium().then((b) => (browser = b)),
  ]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  const cfg = {
    server: { host: '127.0.0.1', port, logLevel: 'warn' },
    routes: [{ name: 'prometheus', prefix: '/', upstream: { url: stack.prom.base } }],
    auth: {
      oidc: {
        issuerUrl: idp.issuer,
        clientId: idp.clients.basic.clientId,
        clientSecret: idp.clients.basic.clientSecret,
        insecure: true,
        cookie: { secret: randomBytes(32).toString('base64'), secure: false },
      },
    },
    tenants: { rules: [{ match: { emails: ['alice@example.com'] }, labels: { namespace: 'team-a' } }] },
  };
  pg = await startPromgate({ port, configYaml: stringify(cfg) });
});

after(async () => {
  await browser?.close();
  await pg?.stop();
  await idp?.close();
  await stack?.stop();
  tmp?.remove();
});

interface QueryAnswer {
  status: number;
  body: { status: string; data?: { result: { metric: Record<string, string> }[] }; code?: string; errorType?: string };
}

/** fetch() from the page's own origin, so the browser sends its (HttpOnly) session cookie. */
function fetchFromPage(page: Page, path: string, headers: Record<string, string> = {}): Promise<QueryAnswer> {
  return page.evaluate(
    async ({ path, headers }) => {
      const r = await fetch(path, { headers, redirect: 'manual' });
      return { status: r.status, body: r.type === 'opaqueredirect' ? { status: 'redirect' } : await r.json() };
    },
    { path, headers },
  ) as Promise<QueryAnswer>;
}

const namespaces = (a: QueryAnswer) => (a.body.data?.result ?? []).map((s) => s.metric.namespace).sort();

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await page.locator('#submit').click();
}

async function sessionCookies(ctx: BrowserContext) {
  return (await ctx.cookies(pg.url)).filter((c) => c.name.startsWith('_oauth2_proxy'));
}

test(
  'Chromium: protected URL → provider sign-in → back on the URL with tenant data only → sign-out ends the session',
  { skip },
  async () => {
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      // 1. A protected API URL opened in the browser: sent through /oauth2/start to the provider's sign-in form.
      const visited: string[] = [];
      page.on('request', (r) => {
        if (r.isNavigationRequest()) visited.push(r.url());
      });
      await page.goto(pg.url + API_PATH);
      assert.ok(page.url().startsWith(`${idp.issuer}/interaction/`), `at the provider's form, not ${page.url()}`);
      assert.ok(
        visited.some((u) => u.startsWith(`${pg.url}/oauth2/start?rd=`)),
        `went through /oauth2/start: ${visited.join(' → ')}`,
      );
      assert.ok(
        visited.some(
          (u) => u.startsWith(`${idp.issuer}/auth?`) && new URL(u).searchParams.get('code_challenge_method') === 'S256',
        ),
        'authorization request with PKCE S256',
      );

      // 2. Sign in through the provider's own form; the browser lands back on the original URL.
      await signIn(page, 'alice', 'alice-pw');
      await page.waitForURL(pg.url + API_PATH, { timeout: 10_000 });
      const landed = JSON.parse(await page.locator('pre').first().innerText()) as QueryAnswer['body'];
      assert.equal(landed.status, 'success');
      assert.deepEqual(
        (landed.data?.result ?? []).map((s) => s.metric.namespace),
        ['team-a'],
        'the landed page shows team-a data only',
      );

      const cookies = await sessionCookies(ctx);
      assert.ok(cookies.length >= 1, 'session cookie set');
      for (const c of cookies) {
        assert.equal(c.httpOnly, true, `${c.name} HttpOnly`);
        assert.equal(c.sameSite, 'Lax', `${c.name} SameSite=Lax`);
        assert.equal(c.secure, false, 'cookie.secure: false for plain http');
      }
      assert.deepEqual(
        (await ctx.cookies(pg.url)).filter((c) => c.name.includes('csrf')).map((c) => c.name),
        [],
        'the login CSRF cookie is gone',
      );

      // 3. The Prometheus UI under the session: its own XHRs and a fetch() from the page see team-a only.
      await page.goto(pg.url + GRAPH_PATH);
      // The Prometheus UI rewrites its own query string once loaded (it adds g0.range_input, for one), so compare
      // where the browser is and which expression it shows, not the exact string.
      const at = new URL(page.url());
      const want = new URL(pg.url + GRAPH_PATH);
      assert.equal(at.origin + at.pathname, want.origin + want.pathname, `no new sign-in needed: at ${page.url()}`);
      assert.equal(
        at.searchParams.get('g0.expr'),
        want.searchParams.get('g0.expr'),
        'the graph page kept its expression',
      );
      await page.getByText('namespace="team-a"').first().waitFor({ timeout: 10_000 });
      // Into the suite's temp dir (removed afterwards); E2E_SCREENSHOT_DIR=<dir> keeps it for a look.
      const shot = join(process.env.E2E_SCREENSHOT_DIR ?? tmp.path, 'oidc-browser-landed.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
      assert.ok(png.length > 5000, `a rendered page, not a blank one (${png.length} bytes)`);
      assert.equal(await page.getByText('namespace="team-b"').count(), 0, 'no other tenant in the table');

      const mine = await fetchFromPage(page, API_PATH);
      assert.equal(mine.status, 200);
      assert.deepEqual(namespaces(mine), ['team-a']);
      const other = await fetchFromPage(
        page,
        `/api/v1/query?query=${encodeURIComponent('http_requests_total{namespace="team-b"}')}`,
      );
      assert.equal(other.status, 200);
      assert.deepEqual(
        other.body.data?.result,
        [],
        "another tenant's series are not visible even when asked for by name",
      );
      const info = await page.evaluate(async () => (await fetch('/oauth2/userinfo')).json());
      // No tenant or route rule looks at groups, so the groups scope was not asked for.
      assert.deepEqual(info, { user: 'alice', email: 'alice@example.com', preferredUsername: 'alice' });

      // 4. Sign out: cookies cleared, then RP-initiated logout at the provider (confirmed on its page).
      await page.goto(`${pg.url}/oauth2/sign_out`);
      assert.ok(page.url().startsWith(`${idp.issuer}/session/end`), `at the provider's logout, not ${page.url()}`);
      assert.deepEqual(await sessionCookies(ctx), [], 'session cookies deleted by sign_out');
      await page.locator('button[value="yes"]').click();
      await page.waitForLoadState('load');

      // 5. The session is gone: API calls get 401 JSON, and a page load goes back to the provider's sign-in form.
      // (from /ping: the sign-in page's CSP forbids fetch(), as it should)
      await page.goto(`${pg.url}/ping`);
      const api = await fetchFromPage(page, API_PATH, { accept: 'application/json' });
      assert.equal(api.status, 401);
      assert.equal(api.body.code, 'PG_AUTHN_REQUIRED');
      assert.equal((await fetchFromPage(page, '/oauth2/userinfo')).status, 401);
      await page.goto(pg.url + GRAPH_PATH);
      assert.ok(page.url().startsWith(`${idp.issuer}/interaction/`), `a new sign-in is needed, not ${page.url()}`);
      await page.locator('#username').waitFor();
    } finally {
      await ctx.close();
    }
  },
);
