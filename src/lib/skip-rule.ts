// oauth2-proxy's skip-auth-route syntax ([METHOD=]regex, METHOD!=regex, !=regex), parsed once; used by the config check and sign-in.
import { searchMatcher, type Re2Test } from './re2.js';

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
