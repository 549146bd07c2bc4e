// Header hygiene for both directions, in the fixed order of the design: hop-by-hop, identity, own headers, signing.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies still see. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/**
 * Headers a client must never be able to set for the upstream: identity and tenant headers, compared after
 * lowercasing and mapping `_` to `-` so `x_forwarded_user` and `X-Forwarded-User` are the same header
 * (several servers, e.g. nginx with underscores_in_headers and CGI-style stacks, treat them alike).
 */
const IDENTITY = new Set([
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'x-auth-request-access-token',
  'x-auth-request-redirect',
  'x-scope-orgid',
  'thanos-tenant',
  'x-prometheus-tenant',
  'x-webauth-user',
  'remote-user',
  'x-remote-user',
  'authorization',
  'token',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-uri',
  'x-forwarded-method',
  'x-forwarded-prefix',
  'forwarded',
  'x-real-ip',
  'x-request-id',
]);

function connectionNamed(h: IncomingHttpHeaders): Set<string> | undefined {
  const c = h.connection;
  if (!c) return undefined;
  const out = new Set<string>();
  for (const tok of c.split(',')) {
    const t = tok.trim().toLowerCase();
    if (t) out.add(t);
  }
  return out;
}

const normalizedCache = new Map<string, string>();
function normalize(name: string): string {
  let n = normalizedCache.get(name);
  if (n === undefined) {
    n = name.toLowerCase().replace(/_/g, '-');
    if (normalizedCache.size < 4096) normalizedCache.set(name, n);
  }
  return n;
}

/**
 * Steps 1 and 2: copy the client's headers without hop-by-hop headers, the headers `Connection` names,
 * and any identity/tenant header in any spelling. `extraStrip` holds more normalized names (e.g. a configured tenant header).
 */
export function cleanRequestHeaders(
  h: IncomingHttpHeaders,
  extraStrip?: ReadonlySet<string>,
): Record<string, string | string[]> {
  const named = connectionNamed(h);
  const out: Record<string, string | string[]> = {};
  for (const name in h) {
    const v = h[name];
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are the request line, never headers upstream.
    if (v === undefined || HOP_BY_HOP.has(name) || named?.has(name) || name.charCodeAt(0) === 58) continue;
    const n = normalize(name);
    if (IDENTITY.has(n) || extraStrip?.has(n)) continue;
    out[name] = v;
  }
  return out;
}

/**
 * Headers that name a backend's software and version (`Server: nginx/1.25.3`, `X-Powered-By`): promgate's
 * clients need not learn what stands behind it, so they are dropped from answers (promgate sends no Server header).
 */
const SOFTWARE = new Set(['server', 'x-powered-by', 'x-aspnet-version']);

/** Response side: drop hop-by-hop, Connection-named and software headers; keep Content-Encoding and everything else untouched. */
export function cleanResponseHeaders(h: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const c = h.connection;
  const named = c
    ? new Set(
        String(c)
          .split(',')
          .map((s) => s.trim().toLowerCase()),
      )
    : undefined;
  const out: OutgoingHttpHeaders = {};
  for (const name in h) {
    const v = h[name];
    if (v === undefined || HOP_BY_HOP.has(name) || named?.has(name) || SOFTWARE.has(name)) continue;
    out[name] = v;
  }
  return out;
}

export function normalizeHeaderName(name: string): string {
  return normalize(name);
}
