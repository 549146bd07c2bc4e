// Cookie header parsing and Set-Cookie building with the configured attributes (RFC 6265).
import type { IncomingHttpHeaders } from 'node:http';

export interface CookieAttributes {
  domains: readonly string[];
  path: string;
  secure: boolean;
  sameSite: 'lax' | 'strict' | 'none' | '';
}

export type CookieJar = ReadonlyMap<string, string>;

const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Cookies sent by the client; for a repeated name the first wins (the most specific path, per RFC 6265 §5.4). */
export function parseCookies(headers: IncomingHttpHeaders): Map<string, string> {
  const out = new Map<string, string>();
  const raw = headers.cookie;
  if (!raw) return out;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!NAME.test(name) || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

/** The request host without port, lower-cased; trusted X-Forwarded-Host is the caller's business. */
export function hostOnly(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/**
 * oauth2-proxy's rule: the longest configured domain that the request host is in. With no match the cookie
 * is host-only (no Domain attribute), because a browser drops a cookie for a domain the host is not in.
 */
export function pickCookieDomain(domains: readonly string[], host: string): string | undefined {
  let best: string | undefined;
  for (const d of domains) {
    const bare = d.replace(/^\./, '').toLowerCase();
    if (bare === '') continue;
    if ((host === bare || host.endsWith('.' + bare)) && (!best || bare.length > best.replace(/^\./, '').length))
      best = d;
  }
  return best;
}

export function serializeCookie(
  name: string,
  value: string,
  attrs: CookieAttributes,
  host: string,
  maxAgeMs: number | null,
  sameSiteOverride?: CookieAttributes['sameSite'],
): string {
  const parts = [`${name}=${value}`, `Path=${attrs.path || '/'}`];
  const domain = pickCookieDomain(attrs.domains, host);
  if (domain) parts.push(`Domain=${domain}`);
  if (maxAgeMs !== null) {
    const seconds = Math.max(0, Math.floor(maxAgeMs / 1000));
    parts.push(`Max-Age=${seconds}`);
    parts.push(`Expires=${new Date(seconds === 0 ? 0 : Date.now() + seconds * 1000).toUTCString()}`);
  }
  parts.push('HttpOnly');
  if (attrs.secure) parts.push('Secure');
  const sameSite = sameSiteOverride ?? attrs.sameSite;
  if (sameSite) parts.push(`SameSite=${sameSite[0]!.toUpperCase()}${sameSite.slice(1)}`);
  return parts.join('; ');
}

/** A Set-Cookie value that deletes the cookie (same Path and Domain it was set with). */
export function clearCookie(name: string, attrs: CookieAttributes, host: string): string {
  return serializeCookie(name, '', attrs, host, 0);
}

/** Appends Set-Cookie values to a response that may already carry some. */
export function appendSetCookie(existing: number | string | string[] | undefined, add: readonly string[]): string[] {
  const prev = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  return [...prev, ...add];
}
