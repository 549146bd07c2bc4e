// Regexes read exactly as the Go backends read them (RE2 syntax and semantics via re2js), compiled once and cached.
import { LRUCache } from 'lru-cache';
import { RE2JS } from 're2js';

/**
 * How the backend's `.` treats "\n" in a label regex:
 * - `dotall`: Prometheus 3 (model/labels/regexp.go parses with syntax.DotNL and compiles `^(?s:…)$`);
 * - `plain`: Prometheus 2 (`^(?:…)$`) and Alertmanager (pkg/labels/matcher.go, `^(?:…)$`);
 * - `unknown`: not known yet. Every use then fails closed: a value is inside a pattern only when it
 *   matches under both readings.
 */
export type DotMode = 'dotall' | 'plain' | 'unknown';

/** A whole-value test: true when the value matches the pattern from its first to its last character. */
export type Re2Test = (value: string) => boolean;

// Compiled forms are cached per (reading, pattern); the bound keeps client-chosen patterns from
// pinning memory. A refused pattern caches its Go error text so a repeated bad pattern costs nothing.
const compiledCache = new LRUCache<string, RE2JS | { error: string }>({ max: 1024 });

const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;

/**
 * The string as Go holds it. A JSON `\ud800` reaches Go as U+FFFD (encoding/json replaces an unpaired
 * surrogate), while JSON.parse keeps it; without this, `\x{fffd}` and `.` would disagree with the backend.
 */
function goString(v: string): string {
  return LONE_SURROGATE.test(v) ? v.replace(LONE_SURROGATES, '\ufffd') : v;
}

function compile(pattern: string, dotAll: boolean): RE2JS | { error: string } {
  const key = (dotAll ? 's' : '-') + pattern;
  let c = compiledCache.get(key);
  if (c !== undefined) return c;
  if (LONE_SURROGATE.test(pattern)) {
    // Go sees such a pattern as invalid UTF-8 (or, through JSON, as U+FFFD): promgate refuses it rather than guess.
    c = { error: 'error parsing regexp: invalid UTF-8' };
  } else {
    try {
      // The pattern alone must parse, as Prometheus checks with syntax.Parse(v, syntax.Perl) before it
      // wraps it: `a)|(b` would otherwise compile as `^(?:a)|(b)$`, an unanchored alternation.
      // RE2JS.DOTALL prepends `(?s)`, the same as Prometheus 3's `(?s:…)` around the parsed pattern.
      c = RE2JS.compile(pattern, dotAll ? RE2JS.DOTALL : 0);
    } catch (e) {
      c = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  compiledCache.set(key, c);
  return c;
}

/** Go's `error parsing regexp: …` text when Go's regexp (Perl flags, as Prometheus and Alertmanager use) refuses the pattern. */
export function goRegexError(pattern: string): string | undefined {
  const c = compile(pattern, false);
  return c instanceof RE2JS ? undefined : c.error;
}

/**
 * The whole-value test the backend applies for `=~pattern` (anchored at both ends), or undefined when
 * Go refuses the pattern. For `unknown` this is the plain reading: RE2 has no negation, lookaround or
 * backreference, so every operator is monotone in the set `.` matches, and what matches with `.`
 * excluding "\n" also matches with it included. The plain reading is therefore exactly the values both
 * readings accept.
 */
export function wholeMatcher(pattern: string, mode: DotMode): Re2Test | undefined {
  const c = compile(pattern, mode === 'dotall');
  if (!(c instanceof RE2JS)) return undefined;
  return (v) => c.testExact(goString(v));
}

/**
 * Does `value` match `pattern` whole, whatever the backend's dot mode? undefined when Go refuses the
 * pattern or when the answer depends on the mode (`.` against a "\n" in the value).
 */
export function wholeMatchAnyMode(pattern: string, value: string): boolean | undefined {
  const plain = wholeMatcher(pattern, 'plain');
  if (plain === undefined) return undefined;
  const a = plain(value);
  // The readings differ only in whether `.` matches "\n": without one in the value they agree, and
  // the second compile (the costly part) is skipped.
  if (!value.includes('\n')) return a;
  const dotall = wholeMatcher(pattern, 'dotall');
  return dotall !== undefined && a === dotall(value) ? a : undefined;
}

/**
 * An unanchored test (Go's regexp.MatchString), as oauth2-proxy applies skip-auth and API route
 * regexes; throws an Error with Go's text when Go refuses the pattern.
 */
export function searchMatcher(pattern: string): Re2Test {
  const c = compile(pattern, false);
  if (!(c instanceof RE2JS)) throw new Error(c.error);
  return (v) => c.test(goString(v));
}

/**
 * Replaces the first match of `pattern` (RE2, unanchored, as Go's regexp reads it) with `replacement`, where
 * `$1` and `$<name>` are groups. Throws an Error with Go's text when Go refuses the pattern.
 */
export function firstReplacer(pattern: string, replacement: string): (value: string) => string {
  const c = compile(pattern, false);
  if (!(c instanceof RE2JS)) throw new Error(c.error);
  return (v) => c.matcher(v).replaceFirst(replacement);
}
