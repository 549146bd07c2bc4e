// skip-auth-route rules ([METHOD=]regex, METHOD!=regex, !=regex) matched on the decoded path only, never the query or fragment.
import { searchMatcher, type Re2Test } from '../lib/re2.js';

export interface SkipRule {
  method?: string;
  negate: boolean;
  /** The path regex as written. */
  pattern: string;
  /** Unanchored, as Go's regexp.MatchString: oauth2-proxy's rules are Go regexes, so they are read as RE2. */
  test: Re2Test;
}

const METHOD_PREFIX = /^([A-Za-z]*)(!?)=(.*)$/s;

/**
 * oauth2-proxy's format: "GET=^/public", "POST!=^/admin" (POST on any path but these), "!=^/x" (any
 * method, any other path), or a bare path regex. A "=" is read as the method separator only when what
 * precedes it is a method name, so regexes containing "=" keep working. Regexes are unanchored, as in
 * oauth2-proxy: write ^ and $ yourself.
 */
export function parseSkipRule(rule: string): SkipRule {
  const m = METHOD_PREFIX.exec(rule);
  let method: string | undefined;
  let negate = false;
  let pattern = rule;
  if (m) {
    method = m[1] === '' ? undefined : m[1]!.toUpperCase();
    negate = m[2] === '!';
    pattern = m[3]!;
  }
  let test: Re2Test;
  try {
    test = searchMatcher(pattern);
  } catch (e) {
    throw new Error(`skip-auth-route "${rule}": not a valid Go (RE2) regex: ${(e as Error).message}`);
  }
  return { method, negate, pattern, test };
}

export type SkipAuthMatcher = (method: string, decodedPath: string) => boolean;

/** Decoded paths that no skip rule may ever see: a "?" or "#" there came from %3F/%23, i.e. a trick. */
const UNSKIPPABLE = /[?#\u0000-\u001f\u007f\\]|%(?:2e|2f|5c|23|3f|00)/i;

/**
 * A matcher over every rule: true when the request needs no authentication. Give it the decoded path
 * without query (the pipeline's ctx.path, or skipAuthPath() of X-Forwarded-Uri).
 */
export function createSkipAuthMatcher(rules: readonly string[]): SkipAuthMatcher {
  const parsed = rules.map(parseSkipRule);
  if (parsed.length === 0) return () => false;
  return (method, decodedPath) => {
    if (decodedPath[0] !== '/' || UNSKIPPABLE.test(decodedPath)) return false;
    const m = method.toUpperCase();
    return parsed.some((r) => (r.method === undefined || r.method === m) && r.test(decodedPath) !== r.negate);
  };
}

const CONTROL = /[\u0000-\u001f\u007f\\]/;

/**
 * The path to match from a raw request target or X-Forwarded-Uri: cut at the first "?" or "#", dot segments
 * resolved, percent-decoded once. null when it cannot be decoded safely — the caller must then require
 * authentication (fail closed), so "/public%23/../private" or "%2e%2e" games cannot reach a skip rule.
 */
export function skipAuthPath(rawTarget: string): string | null {
  const cut = rawTarget.search(/[?#]/);
  const raw = cut === -1 ? rawTarget : rawTarget.slice(0, cut);
  if (raw[0] !== '/' || raw[1] === '/' || CONTROL.test(raw)) return null;
  let resolved: string;
  try {
    resolved = new URL(raw, 'http://promgate.invalid').pathname;
  } catch {
    return null;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(resolved);
  } catch {
    return null;
  }
  if (CONTROL.test(decoded) || UNSKIPPABLE.test(decoded) || /(^|\/)\.\.?(\/|$)/.test(decoded) || decoded.includes('//')) return null;
  return decoded;
}
