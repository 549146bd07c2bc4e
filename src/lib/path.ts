// Turns the raw request target into a decoded path that matching uses and the exact wire form forwarding sends.
import { GatewayError } from '../errors.js';

export interface RequestTarget {
  /** Decoded path, e.g. /api/v1/label/job/values: what routes, rules and skip-auth match. */
  path: string;
  /**
   * The same path as sent upstream: each segment re-encoded from its decoded value, with ";" raw only where the
   * client wrote it raw ("%3B" stays "%3B"). Segment i of `wire` is segment i of `path` (no decoded "/" exists).
   * Absent when it equals `path`, as for every plain Prometheus path.
   */
  wire?: string;
  /** Raw query string without '?', or ''. */
  search: string;
}

const CONTROL = /[\u0000-\u001f\u007f\\]/;

/**
 * The name of a decoded segment as a servlet container reads it: the part before the first ";". Tomcat, Jetty
 * and Spring drop ";params" from every segment before routing and dot-segment removal, so for them "..;x" is
 * "..", while nginx, Go's net/http and Prometheus read "..;x" as an ordinary name.
 */
export function segmentName(decoded: string): string {
  const i = decoded.indexOf(';');
  return i === -1 ? decoded : decoded.slice(0, i);
}

/** "." or ".." as any backend reads it: plain, percent-encoded, or with ";params" ("..;", "%2e%2e;", ".%2E;x"). */
export function isDotName(name: string): boolean {
  return name === '.' || name === '..';
}

/**
 * Refuses targets whose meaning could differ between promgate and the upstream router: dot segments (also
 * "..;" and its encodings, which servlet apps resolve and others do not), encoded slashes, empty segments
 * (also ";x" in the middle, an empty name for a servlet), backslashes and control characters.
 * What we match is what is forwarded.
 */
export function parseTarget(url: string | undefined): RequestTarget {
  if (!url || url[0] !== '/') throw new GatewayError('PG_BAD_REQUEST', 'request target must be an absolute path');
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  let search = q === -1 ? '' : url.slice(q + 1);
  const hash = search.indexOf('#');
  if (hash !== -1) search = search.slice(0, hash);
  // Prometheus paths never hold "%" or ";": the common case needs no per-segment work.
  if (
    rawPath.indexOf('%') === -1 &&
    rawPath.indexOf(';') === -1 &&
    !CONTROL.test(rawPath) &&
    !rawPath.includes('//') &&
    !rawPath.includes('/.')
  ) {
    return SAFE_PATH.test(rawPath)
      ? { path: rawPath, search }
      : { path: rawPath, wire: rawPath.split('/').map(wirePart).join('/'), search };
  }
  const segs = rawPath.split('/');
  const out: string[] = [];
  const wire: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    // Split at the raw ";" first: only those are parameter separators upstream; a decoded "%3B" is part of a name.
    const parts = segs[i]!.split(';');
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      throw new GatewayError('PG_BAD_REQUEST', 'malformed percent-encoding in path');
    }
    const seg = decoded.join(';');
    if (seg.includes('/') || CONTROL.test(seg))
      throw new GatewayError(
        'PG_BAD_REQUEST',
        'encoded slashes, backslashes and control characters are not allowed in paths',
      );
    // Decoded, so "..%3B" and "%2e%2e;" count too: refusing them is the only reading every backend shares.
    const name = segmentName(seg);
    if (isDotName(name))
      throw new GatewayError(
        'PG_BAD_REQUEST',
        'dot segments are not allowed in paths ("..;" and encoded dots included)',
      );
    // A trailing "/" or "/;jsessionid=…" (Tomcat's URL rewriting of a directory) is fine; an empty name inside is not.
    if (name === '' && i !== segs.length - 1)
      throw new GatewayError('PG_BAD_REQUEST', 'empty path segments are not allowed');
    out.push(seg);
    wire.push(decoded.map(wirePart).join(';'));
  }
  const path = '/' + out.join('/');
  const w = '/' + wire.join('/');
  return w === path ? { path, search } : { path, wire: w, search };
}

/** Characters a path segment may carry unencoded; ";" is not among them (a decoded ";" came from "%3B"). */
const SAFE_PART = /^[A-Za-z0-9\-._~!$&'()*+,=:@]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;

function wirePart(s: string): string {
  return SAFE_PART.test(s) ? s : encodeURIComponent(s);
}

/**
 * Encode a decoded path for a request line. It cannot know which ";" the client sent raw, so every ";" is
 * encoded: use RequestTarget.wire (through wireBelow) for forwarded requests.
 */
export function encodePath(path: string): string {
  if (SAFE_PATH.test(path)) return path;
  return path.split('/').map(wirePart).join('/');
}

/**
 * The wire form of the path below a route prefix: drops as many segments as the prefix has. Route prefixes end
 * on a segment boundary and decoded and wire segments correspond one to one, so this is RouteMatch.rel, encoded.
 */
export function wireBelow(wire: string, prefix: string): string {
  if (prefix === '/') return wire;
  let pos = 0;
  for (let i = 0; i < prefix.length; i++) {
    if (prefix.charCodeAt(i) !== 47 /* / */) continue;
    pos = wire.indexOf('/', pos + 1);
    if (pos === -1) return '/';
  }
  return wire.slice(pos);
}
