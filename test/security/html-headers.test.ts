// Every page promgate serves to a browser carries CSP (frame-ancestors 'none'), X-Frame-Options DENY, Referrer-Policy and nosniff; no Server header names software.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIONS } from '../../src/signin/endpoints.js';
import { htmlSecurityHeaders } from '../../src/lib/html-headers.js';
import { startOidcProvider, TestBrowser } from '../e2e/harness/oidc-provider.js';
import { reservePort } from '../e2e/harness/ports.js';
import { startStub } from '../helpers/upstream-stub.js';
import { startRuntime } from '../authn/oidc-runtime.js';

/** What a page for a browser must carry; a text page gets the same (a browser shows it too). */
function pageProblems(h: Headers): string[] {
  const out: string[] = [];
  const csp = h.get('content-security-policy') ?? '';
  if (!/frame-ancestors 'none'/.test(csp)) out.push(`CSP without frame-ancestors 'none': "${csp}"`);
  if (!/default-src 'none'/.test(csp)) out.push(`CSP without default-src 'none': "${csp}"`);
  if (h.get('x-frame-options') !== 'DENY') out.push(`X-Frame-Options ${h.get('x-frame-options')}`);
  if (h.get('x-content-type-options') !== 'nosniff')
    out.push(`X-Content-Type-Options ${h.get('x-content-type-options')}`);
  if (!h.get('referrer-policy')) out.push('no Referrer-Policy');
  return out;
}

test('every HTML page and every error page promgate serves to a browser carries the security headers (crawl of its own endpoints)', async (t) => {
  // Held until the gateway binds it: the IdP must know the callback URL first.
  const held = await reservePort();
  t.after(() => held.release());
  const port = held.port;
  const idp = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/oauth2/callback`] });
  t.after(() => idp.close());
  // The app behind the gateway says which software it is; promgate does not pass that on.
  const app = await startStub((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', server: 'nginx/1.25.3', 'x-powered-by': 'PHP/8.1.2' });
    res.end('app');
  });
  t.after(() => app.close());
  await held.release();
  const gw = await startRuntime(port, idp, idp.clients.basic, app, {
    routes: [{ name: 'api', prefix: '/prom', upstream: { url: app.url }, authMethods: ['session'] }],
    portal: { path: '/home' },
  });
  t.after(() => gw.close());
  const signedIn = new TestBrowser();
  assert.equal((await signedIn.login(`${gw.url}/oauth2/start`, { id: 'alice', password: 'alice-pw' })).res.status, 302);
  const callbacks = [
    '/oauth2/callback?state=forged&code=x',
    '/oauth2/callback?error=access_denied&error_description=%3Cscript%3E',
    '/oauth2/callback',
  ];
  const paths = [
    ...ACTIONS.map((a) => `/oauth2/${a}`),
    ...ACTIONS.map((a) => `/oauth2/${a}?rd=https%3A%2F%2Fevil.example%2F`),
    ...callbacks,
    '/ping',
    '/ready',
    '/-/healthy',
    '/-/ready',
    '/metrics',
    '/',
    '/home',
    '/home/portal.json',
    '/app/page',
    '/prom/graph',
    '/prom/api/v1/query?query=up',
    '/a/../b',
    '/%2e%2e/x',
    '/x%00y',
  ];
  const browsers = {
    anonymous: new TestBrowser(),
    signedIn,
    forgedCookie: new TestBrowser(undefined, { cookie: '_oauth2_proxy=forged-value' }),
  };
  const kinds = new Map<string, number>();
  const problems: string[] = [];
  for (const [who, b] of Object.entries(browsers)) {
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const res = await b.clone().request(`${gw.url}${path}`, {
          method,
          headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
        });
        const body = await res.text();
        const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
        kinds.set(type, (kinds.get(type) ?? 0) + 1);
        if (res.headers.has('server')) problems.push(`${who} ${method} ${path}: Server ${res.headers.get('server')}`);
        if (res.headers.has('x-powered-by')) problems.push(`${who} ${method} ${path}: X-Powered-By`);
        // An answer from promgate itself (not the app's own text) that a browser would render.
        const own = body !== 'app';
        if (own && (type === 'text/html' || (type === 'text/plain' && res.status >= 400 && body.includes('(code PG_'))))
          for (const p of pageProblems(res.headers))
            problems.push(`${who} ${method} ${path} (${res.status} ${type}): ${p}`);
        if (type === 'text/html' && /<script/i.test(body))
          problems.push(`${who} ${method} ${path}: a script in the page`);
      }
    }
  }
  assert.deepEqual(problems, []);
  // The crawl reached the pages it is about: HTML pages (sign-in, sign-in failed) and text error pages.
  assert.ok((kinds.get('text/html') ?? 0) >= 4, JSON.stringify([...kinds]));
  assert.ok((kinds.get('text/plain') ?? 0) >= 4, JSON.stringify([...kinds]));
});

test('a source file that writes text/html calls htmlSecurityHeaders (a new page without them fails here)', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const src = readFileSync(p, 'utf8');
        const writesHtml = /['"]text\/html/.test(src.replace(/accept[^\n]*text\/html[^\n]*/gi, ''));
        if (writesHtml && !src.includes('htmlSecurityHeaders(') && !p.endsWith(join('lib', 'html-headers.ts')))
          offenders.push(p);
      }
    }
  };
  walk('src');
  assert.deepEqual(offenders, []);
});

test('htmlSecurityHeaders sets all four headers and refuses a policy that would allow framing', () => {
  const set = new Map<string, string>();
  htmlSecurityHeaders({ setHeader: (k: string, v: string) => set.set(k, v) });
  assert.deepEqual(pageProblems(new Headers([...set])), []);
  assert.throws(() => htmlSecurityHeaders({ setHeader: () => undefined }, "default-src 'self'"), /frame-ancestors/);
  // The control: headers without them are caught.
  assert.equal(pageProblems(new Headers({ 'content-type': 'text/html' })).length, 5);
});
