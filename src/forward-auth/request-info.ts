// What a request says about the browser's original request: X-Forwarded-* (from trusted proxies only), redirects, callback URL.
import type { IncomingMessage } from 'node:http';
import type { ProxyTrust } from '../server/trusted-proxies.js';
import type { Re2Test } from '../lib/re2.js';
import { outsidePrefix, type RedirectValidator } from './redirect.js';

export interface Forwarded {
  proto?: string;
  host?: string;
  uri?: string;
  method?: string;
}

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  const f = s?.split(',')[0]?.trim();
  return f === '' ? undefined : f;
}

/** True when the direct peer may speak for the client through X-Forwarded-* headers. */
export function isTrusted(req: IncomingMessage, trust: ProxyTrust): boolean {
  return trust(req.socket.remoteAddress);
}

/** X-Forwarded-Proto/Host/Uri/Method, or nothing at all when the peer is not a trusted proxy. */
export function forwarded(req: IncomingMessage, trust: ProxyTrust): Forwarded {
  if (!isTrusted(req, trust)) return {};
  const h = req.headers;
  const proto = first(h['x-forwarded-proto'])?.toLowerCase();
  return {
    proto: proto === 'http' || proto === 'https' ? proto : undefined,
    host: first(h['x-forwarded-host']),
    uri: first(h['x-forwarded-uri']) ?? first(h['x-original-uri']),
    method: first(h['x-forwarded-method'])?.toUpperCase(),
  };
}

/** The scheme and host the browser used for this request. */
export function publicOrigin(req: IncomingMessage, trust: ProxyTrust): string {
  const f = forwarded(req, trust);
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = f.proto ?? (encrypted ? 'https' : 'http');
  return `${proto}://${f.host ?? req.headers.host ?? 'localhost'}`;
}

export interface RedirectChoice {
  validate: RedirectValidator;
  trust: ProxyTrust;
  proxyPrefix: string;
}

/**
 * oauth2-proxy's order: the rd parameter, then (trusted proxies only) X-Auth-Request-Redirect, then
 * X-Forwarded-Proto/Host/Uri, then this request's own URI when it is not a sign-in endpoint, then "/".
 * Every candidate goes through the validator; an invalid one is skipped, never "fixed".
 */
export function chooseRedirect(req: IncomingMessage, url: URL, opts: RedirectChoice): string {
  const { validate } = opts;
  const rd = validate(url.searchParams.get('rd'));
  if (rd) return rd;
  if (isTrusted(req, opts.trust)) {
    const header = validate(first(req.headers['x-auth-request-redirect']));
    if (header) return header;
    const f = forwarded(req, opts.trust);
    if (f.uri !== undefined) {
      const uri = outsidePrefix(f.uri, opts.proxyPrefix) ? f.uri : '/';
      const sameHost = f.host === undefined || f.host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
      const target = sameHost ? validate(uri) : validate(`${f.proto ?? 'https'}://${f.host}${uri}`);
      if (target) return target;
    }
  }
  const own = url.pathname + url.search;
  if (outsidePrefix(url.pathname, opts.proxyPrefix)) return validate(own) ?? '/';
  return '/';
}

/** The callback URL: configured, or this request's public origin + <prefix>/callback (oauth2-proxy's default). */
export function callbackUrl(req: IncomingMessage, trust: ProxyTrust, configured: string | undefined, proxyPrefix: string): string {
  if (configured) {
    // A relative redirect-url (oauth2-proxy --relative-redirect-url style) takes the request's origin.
    return configured.startsWith('/') ? publicOrigin(req, trust) + configured : configured;
  }
  return `${publicOrigin(req, trust)}${proxyPrefix}/callback`;
}

/**
 * Requests that must get 401 rather than a login redirect: JSON clients, XHR, anything carrying its own
 * credentials, and paths matching an api-route regex.
 */
export function wantsApiAnswer(req: IncomingMessage, path: string, apiRoutes: readonly Re2Test[]): boolean {
  const h = req.headers;
  const accept = h.accept ?? '';
  if (accept.includes('application/json') && !accept.includes('text/html')) return true;
  if (h['x-requested-with'] !== undefined) return true;
  if (h.authorization !== undefined) return true;
  return apiRoutes.some((r) => r(path));
}
