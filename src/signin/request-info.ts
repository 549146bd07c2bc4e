// What a request says about the browser's original request: X-Forwarded-* (from trusted proxies only), redirects, callback URL.
import type { Re2Test } from '../lib/re2.js';
import type { IncomingMessage } from 'node:http';
import type { ProxyTrust } from '../lib/trusted-proxies.js';
import { GatewayError } from '../errors.js';
import { outsidePrefix, type RedirectValidator } from './redirect.js';
import { skipAuthPath } from './skip-auth.js';

export interface Forwarded {
  proto?: string;
  host?: string;
  /** X-Forwarded-Uri, else X-Original-Uri: one URI, whole (a comma in it is not a list separator). */
  uri?: string;
}

/** List headers (X-Forwarded-For/-Proto/-Host, X-Auth-Request-Redirect): one element per hop; the first counts. */
function firstOfList(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  const f = s?.split(',')[0]?.trim();
  return f === '' ? undefined : f;
}

/**
 * Single-value headers (X-Forwarded-Uri, X-Original-Uri, X-Forwarded-Method): the whole value, never cut at a
 * comma — "/a,b" is one URI, and cutting "/public/x,/../../admin" at the comma is how a skip rule was fooled.
 * Node joins repeated header lines with ", ", so a repeated header is visible here as a comma.
 */
function whole(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v.join(', ') : v;
  const t = s?.trim();
  return t === '' ? undefined : t;
}

/** True when the direct peer may speak for the client through X-Forwarded-* headers. */
export function isTrusted(req: IncomingMessage, trust: ProxyTrust): boolean {
  return trust(req.socket.remoteAddress);
}

/** X-Forwarded-Proto/Host/Uri (the method only matters to skipTarget), or nothing at all when the peer is not a trusted proxy. */
export function forwarded(req: IncomingMessage, trust: ProxyTrust): Forwarded {
  if (!isTrusted(req, trust)) return {};
  const h = req.headers;
  const proto = firstOfList(h['x-forwarded-proto'])?.toLowerCase();
  return {
    proto: proto === 'http' || proto === 'https' ? proto : undefined,
    host: firstOfList(h['x-forwarded-host']),
    uri: whole(h['x-forwarded-uri']) ?? whole(h['x-original-uri']),
  };
}

const METHOD = /^[A-Za-z]+$/;

/**
 * The original request as the skip-auth rules may read it (method and decoded path), or null — authentication
 * required — when the peer is not a trusted proxy or anything is ambiguous: X-Forwarded-Uri and X-Original-Uri
 * naming different requests, a method that is not one token ("GET, POST" is two header lines), or a URI that
 * skipAuthPath() refuses (a comma, "..;", an encoded separator, …).
 */
export function skipTarget(req: IncomingMessage, trust: ProxyTrust): { method: string; path: string } | null {
  if (!isTrusted(req, trust)) return null;
  const h = req.headers;
  const fwdUri = whole(h['x-forwarded-uri']);
  const origUri = whole(h['x-original-uri']);
  const uri = fwdUri ?? origUri;
  if (uri === undefined || (origUri !== undefined && origUri !== uri)) return null;
  const method = whole(h['x-forwarded-method']) ?? req.method ?? 'GET';
  if (!METHOD.test(method)) return null;
  const path = skipAuthPath(uri);
  return path === null ? null : { method: method.toUpperCase(), path };
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
    const header = validate(firstOfList(req.headers['x-auth-request-redirect']));
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

/** A plain host[:port]: DNS name, IPv4 or bracketed IPv6. Nothing else may become part of a URL we build. */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/**
 * This request's public origin, when it can be trusted to name promgate: X-Forwarded-Host from a trusted
 * proxy, or the Host header when it is a loopback name or a host the operator listed in whitelistDomains.
 * Anything else (a Host header any client may set) gives undefined: a URL sent to the provider, such as
 * the sign-in callback, must never take its host from a header the client chose.
 */
export function trustedOrigin(req: IncomingMessage, choice: RedirectChoice): string | undefined {
  const f = forwarded(req, choice.trust);
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = f.proto ?? (encrypted ? 'https' : 'http');
  if (f.host !== undefined) return HOST.test(f.host) ? `${proto}://${f.host}` : undefined;
  const host = req.headers.host;
  if (host === undefined || !HOST.test(host)) return undefined;
  if (LOOPBACK.test(host) || choice.validate(`${proto}://${host}/`) !== null) return `${proto}://${host}`;
  return undefined;
}

/**
 * The callback URL: configured, or this request's trusted public origin + <prefix>/callback (oauth2-proxy's
 * default). Without a configured absolute URL and without a trusted origin, sign-in is refused.
 */
export function callbackUrl(req: IncomingMessage, choice: RedirectChoice, configured: string | undefined): string {
  if (configured && !configured.startsWith('/')) return configured;
  const origin = trustedOrigin(req, choice);
  if (origin === undefined) {
    throw new GatewayError(
      'PG_BAD_REQUEST',
      'cannot build the sign-in callback URL from this Host header: set auth.oidc.redirectUrl, list the proxy in server.trustedProxies, or the host in auth.oidc.whitelistDomains',
    );
  }
  // A relative redirect-url (oauth2-proxy --relative-redirect-url style) takes the request's origin.
  return origin + (configured ?? `${choice.proxyPrefix}/callback`);
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
