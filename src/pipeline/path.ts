// Turns the raw request target into a decoded, canonical path that matching and forwarding both use.
import { GatewayError } from '../errors.js';

export interface RequestTarget {
  /** Decoded path, e.g. /api/v1/label/job/values. */
  path: string;
  /** Raw query string without '?', or ''. */
  search: string;
}

const CONTROL = /[\u0000-\u001f\u007f\\]/;

/**
 * Refuses targets whose meaning could differ between promgate and the upstream router: dot segments,
 * encoded slashes, empty segments, backslashes and control characters. What we match is what is forwarded.
 */
export function parseTarget(url: string | undefined): RequestTarget {
  if (!url || url[0] !== '/') throw new GatewayError('PG_BAD_REQUEST', 'request target must be an absolute path');
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  let search = q === -1 ? '' : url.slice(q + 1);
  const hash = search.indexOf('#');
  if (hash !== -1) search = search.slice(0, hash);
  if (rawPath.indexOf('%') === -1 && !CONTROL.test(rawPath) && !rawPath.includes('//') && !rawPath.includes('/.')) {
    return { path: rawPath, search };
  }
  const segs = rawPath.split('/');
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const raw = segs[i]!;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new GatewayError('PG_BAD_REQUEST', 'malformed percent-encoding in path');
    }
    if (seg.includes('/') || CONTROL.test(seg)) throw new GatewayError('PG_BAD_REQUEST', 'encoded slashes, backslashes and control characters are not allowed in paths');
    if (seg === '.' || seg === '..') throw new GatewayError('PG_BAD_REQUEST', 'dot segments are not allowed in paths');
    if (seg === '' && i !== segs.length - 1) throw new GatewayError('PG_BAD_REQUEST', 'empty path segments are not allowed');
    out.push(seg);
  }
  return { path: '/' + out.join('/'), search };
}

const SAFE_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/** Encode a decoded path for the upstream request line. */
export function encodePath(path: string): string {
  if (SAFE_PATH.test(path)) return path;
  return path.split('/').map((s) => (SAFE_SEGMENT.test(s) ? s : encodeURIComponent(s))).join('/');
}
