// The portal's HTML: one server-rendered page, its stylesheet allowed by hash, no script at all.
import { createHash } from 'node:crypto';
import { HTML_SECURITY_HEADERS, htmlSecurityHeaders } from '../lib/html-headers.js';
import type { ServerResponse } from 'node:http';
import { escapeHtml } from '../signin/respond.js';
import type { PortalRoute, PortalView } from './view.js';

// Colours are chosen for WCAG AA contrast (4.5:1 and above) on their backgrounds.
const CSS = `*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1c1e21;line-height:1.45}
header{background:#1c1e21;color:#fff;padding:.8rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;justify-content:space-between}
header .brand{font-weight:700;font-size:1.1rem;margin:0}
header nav ul{list-style:none;margin:0;padding:0;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#fff}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:0 0 .4rem}
section.who{background:#fff;border-radius:8px;padding:1rem;margin-bottom:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
ul.cards{list-style:none;margin:0;padding:0;display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr))}
ul.cards>li{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.12);display:flex;flex-direction:column;gap:.4rem}
.card a.open{font-weight:600;color:#0b4fb3;overflow-wrap:anywhere}
.card p{margin:0}
.card .path{display:block;font-weight:400;font-size:.85rem;color:#4a4f57}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;background:#eef0f3;padding:.05rem .3rem;border-radius:3px;overflow-wrap:anywhere}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:999px;font-size:.85rem;font-weight:600}
.up{background:#dff3e4;color:#14532d}.down{background:#fde2e1;color:#8a1c14}.unknown{background:#e9eaec;color:#3a3d42}
.muted{color:#4a4f57}
a:focus-visible{outline:3px solid #f4b400;outline-offset:2px;border-radius:2px}
main a:focus-visible{outline-color:#0b4fb3}
@media (max-width:30rem){header{flex-direction:column;align-items:flex-start}dl{grid-template-columns:1fr}dt{margin-top:.4rem}}`;

/** default-src 'none': no script, no images, no fetch; the one inline stylesheet is allowed by its hash. */
export const PORTAL_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

/** The headers every portal answer carries (page and JSON). */
export const PORTAL_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  pragma: 'no-cache',
  // X-Frame-Options, Referrer-Policy, nosniff and a CSP every HTML page carries; the portal's own CSP replaces it.
  ...HTML_SECURITY_HEADERS,
};

const e = escapeHtml;

function tenantText(t: PortalRoute['tenant']): string {
  if (t === null) return '<span class="muted">not tenant-enforced (web application)</span>';
  if ('refused' in t) return '<span class="muted">no tenant: queries are refused</span>';
  if (t.unrestricted) return 'all series';
  return t.matchers.map((m) => `<code>${e(m)}</code>`).join(' ');
}

function card(r: PortalRoute, i: number): string {
  const id = `route-${i}`;
  const health = `<span class="badge ${r.health.state}">${r.health.state === 'up' ? 'up' : r.health.state === 'down' ? 'down' : 'unknown'}</span> <span class="muted">${e(r.health.detail)}</span>`;
  const circuit =
    r.circuit === undefined
      ? ''
      : `<dt>Circuit</dt><dd><span class="badge ${r.circuit === 'closed' ? 'up' : r.circuit === 'open' ? 'down' : 'unknown'}">${e(r.circuit)}</span></dd>`;
  return `<li class="card" aria-labelledby="${id}">
<h2 id="${id}">${e(r.name)}</h2>
${r.description !== undefined ? `<p>${e(r.description)}</p>` : ''}
<dl><dt>Tenant</dt><dd>${tenantText(r.tenant)}</dd><dt>Health</dt><dd>${health}</dd>${circuit}</dl>
<p><a class="open" href="${e(r.link)}">Open ${e(r.name)}<span class="path">${e(r.link)}</span></a></p>
</li>`;
}

export function renderPage(v: PortalView): string {
  const u = v.user;
  const signOut =
    v.signOut !== undefined
      ? `<li><a id="sign-out" href="${e(v.signOut)}">Sign out</a></li>`
      : u.method === 'basic'
        ? '<li>Signed in with a password: close the browser to sign out</li>'
        : '';
  const routes =
    v.routes.length === 0
      ? '<p>No route is open to you. Ask an administrator for access.</p>'
      : `<ul class="cards">${v.routes.map(card).join('\n')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${e(v.title)}</title>
<style>${CSS}</style></head>
<body>
<header><p class="brand">${e(v.title)}</p>
<nav aria-label="Account"><ul><li>Signed in as <strong id="user">${e(u.user)}</strong></li>${signOut}</ul></nav></header>
<main>
<h1>Your routes</h1>
<section class="who" aria-labelledby="who-title"><h2 id="who-title">Who you are</h2>
<dl><dt>User</dt><dd>${e(u.user)}</dd>
<dt>Email</dt><dd>${u.email !== undefined ? e(u.email) : '<span class="muted">none</span>'}</dd>
<dt>Groups</dt><dd>${u.groups.length > 0 ? u.groups.map((g) => `<code>${e(g)}</code>`).join(' ') : '<span class="muted">none</span>'}</dd>
<dt>Signed in with</dt><dd>${e(u.method)}</dd></dl></section>
<section aria-labelledby="routes-title"><h2 id="routes-title">Routes you may open</h2>
${routes}</section>
</main></body></html>
`;
}

export function sendPage(res: ServerResponse, html: string, head: boolean, setCookies: readonly string[]): void {
  const headers: Record<string, string | string[]> = {
    ...PORTAL_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'content-security-policy': PORTAL_CSP,
  };
  htmlSecurityHeaders(res, PORTAL_CSP);
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies];
  res.writeHead(200, headers);
  res.end(head ? undefined : html);
}

export function sendView(res: ServerResponse, v: PortalView, head: boolean, setCookies: readonly string[]): void {
  const text = JSON.stringify(v);
  const headers: Record<string, string | string[]> = {
    ...PORTAL_HEADERS,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  };
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies];
  res.writeHead(200, headers);
  res.end(head ? undefined : text);
}
