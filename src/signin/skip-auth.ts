// skip-auth-route rules ([METHOD=]regex, METHOD!=regex, !=regex) matched on the decoded path only, never the query or fragment.
import { isDotName, segmentName } from '../lib/path.js';
import { parseSkipRule } from '../lib/skip-rule.js';

export { parseSkipRule, type SkipRule } from '../lib/skip-rule.js';

export type SkipAuthMatcher = (method: string, decodedPath: string) => boolean;

/** Decoded paths that no skip rule may ever see: a "?" or "#" there came from %3F/%23, i.e. a trick. */
const UNSKIPPABLE = /[?#\u0000-\u001f\u007f\\]|%(?:2e|2f|5c|23|3f|00)/i;

const CONTROL = /[\u0000-\u001f\u007f\\]/;

/** The path as Tomcat, Jetty and Spring route it: ";params" dropped from every segment ("/admin;x.js" is "/admin"). */
function servletReading(decodedPath: string): string {
  return decodedPath.indexOf(';') === -1 ? decodedPath : decodedPath.split('/').map(segmentName).join('/');
}

/**
 * A matcher over every rule: true when the request needs no authentication. Give it the decoded path
 * without query (the pipeline's ctx.path, or skipAuthPath() of X-Forwarded-Uri).
 *
 * A path with ";" has two readings: nginx, Go and Prometheus see "/admin;x.js", a servlet app sees "/admin".
 * The request skips only when the rules skip both, so a rule like "\.js$" cannot open "/admin;x.js". A ";"
 * decoded from "%3B" is forwarded encoded and is a plain character upstream; reading it as a separator here
 * only ever requires authentication where it was not needed.
 */
export function createSkipAuthMatcher(rules: readonly string[]): SkipAuthMatcher {
  const parsed = rules.map(parseSkipRule);
  if (parsed.length === 0) return () => false;
  return (method, decodedPath) => {
    if (decodedPath[0] !== '/' || UNSKIPPABLE.test(decodedPath)) return false;
    const m = method.toUpperCase();
    const skips = (p: string) =>
      parsed.some((r) => (r.method === undefined || r.method === m) && r.test(p) !== r.negate);
    if (!skips(decodedPath)) return false;
    const servlet = servletReading(decodedPath);
    return servlet === decodedPath || skips(servlet);
  };
}

/**
 * The path to match from an X-Forwarded-Uri / X-Original-Uri value (or a raw request target): cut at the first
 * "?" or "#", percent-decoded once per segment, dot segments resolved. null when any backend could read it
 * differently — the caller must then require authentication (fail closed):
 *  - a "," anywhere: the header is one URI, but a proxy or Node may have joined two header lines with ", ", and
 *    "/public/x,/../../admin" is "/admin" to nginx. Which part is "the" URI cannot be known, so none is;
 *  - a segment whose name (the part before ";", after decoding) is "." or ".." but which is not exactly that:
 *    "..;", "..%3B", "%2e%2e;x", ".%2E;jsessionid=1". nginx and Go read a name, Tomcat/Jetty/Spring read "..";
 *  - an empty name inside the path ("//", "/;x/"): servlet containers collapse it, others do not;
 *  - an encoded separator or control character ("%2F", "%5C", "%00"), malformed escapes, ".." above the root,
 *    and "?"/"#"/"%2e"-style escapes left after decoding (double encoding).
 * Plain "." and ".." (also "%2e%2e") are resolved, as nginx, Go's ServeMux, Tomcat and the URL standard all do.
 */
export function skipAuthPath(rawTarget: string): string | null {
  if (rawTarget.includes(',')) return null;
  const cut = rawTarget.search(/[?#]/);
  const raw = cut === -1 ? rawTarget : rawTarget.slice(0, cut);
  if (raw[0] !== '/' || CONTROL.test(raw)) return null;
  const segs = raw.split('/');
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const last = i === segs.length - 1;
    let seg: string;
    try {
      seg = decodeURIComponent(segs[i]!);
    } catch {
      return null;
    }
    if (seg.includes('/') || CONTROL.test(seg)) return null;
    const name = segmentName(seg);
    if (isDotName(name)) {
      if (seg !== name) return null;
      if (seg === '..' && out.pop() === undefined) return null;
      if (last) out.push('');
      continue;
    }
    if (name === '' && !last) return null;
    out.push(seg);
  }
  const decoded = '/' + out.join('/');
  return UNSKIPPABLE.test(decoded) ? null : decoded;
}
