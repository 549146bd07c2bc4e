// Small response writers for the sign-in endpoints: redirects, JSON, text and the two HTML pages (sign-in, login failed).
import type { ServerResponse } from 'node:http';
import type { GatewayError } from '../errors.js';
import { htmlSecurityHeaders } from '../lib/html-headers.js';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function withCookies(
  headers: Record<string, string | string[]>,
  setCookies: readonly string[],
): Record<string, string | string[]> {
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies];
  return headers;
}

export function redirect(res: ServerResponse, location: string, setCookies: readonly string[] = []): void {
  res.writeHead(302, withCookies({ ...NO_STORE, location, 'content-length': '0' }, setCookies));
  res.end();
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  setCookies: readonly string[] = [],
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(
    status,
    withCookies(
      { ...NO_STORE, ...extra, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
      setCookies,
    ),
  );
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  setCookies: readonly string[] = [],
  extra: Record<string, string | string[]> = {},
): void {
  res.writeHead(
    status,
    withCookies(
      {
        ...NO_STORE,
        ...extra,
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'x-content-type-options': 'nosniff',
      },
      setCookies,
    ),
  );
  res.end(body);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(
  res: ServerResponse,
  status: number,
  title: string,
  inner: string,
  setCookies: readonly string[] = [],
): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
main{background:#fff;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);max-width:28rem;text-align:center}
a.button{display:inline-block;margin-top:1rem;padding:.7rem 1.4rem;background:#e6522c;color:#fff;border-radius:4px;text-decoration:none;font-weight:600}
p.small{color:#666;font-size:.85rem}</style></head>
<body><main>${inner}</main></body></html>
`;
  htmlSecurityHeaders(res);
  res.writeHead(
    status,
    withCookies(
      {
        ...NO_STORE,
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(Buffer.byteLength(html)),
      },
      setCookies,
    ),
  );
  res.end(html);
}

/** oauth2-proxy's sign-in page: one button that starts the login and comes back to `rd`. */
export function signInPage(res: ServerResponse, startUrl: string, status = 200): void {
  page(
    res,
    status,
    'Sign in',
    `<h1>Sign in</h1><p>You need to sign in to continue.</p>
<a class="button" id="sign-in" href="${escapeHtml(startUrl)}">Sign in with OpenID Connect</a>
<p class="small">promgate</p>`,
  );
}

export function loginFailedPage(
  res: ServerResponse,
  err: GatewayError,
  retryUrl: string,
  setCookies: readonly string[] = [],
): void {
  page(
    res,
    err.status,
    'Sign-in failed',
    `<h1>Sign-in failed</h1><p>${escapeHtml(err.message)}</p>
<p class="small">code ${escapeHtml(err.code)}</p><a class="button" href="${escapeHtml(retryUrl)}">Try again</a>`,
    setCookies,
  );
}
