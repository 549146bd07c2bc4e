// errorOnConflict: find user matchers that can never match inside the tenant, so we can say 403, not "no data".
import { GatewayError } from '../../errors.js';
import type { LabelConstraint, Matcher } from '../../tenancy/tenant.js';
import type { SelectorScan } from './scan.js';

// Prometheus anchors regex matchers and lets `.` match newlines. A pattern that JS cannot
// compile (RE2-only syntax such as `(?i)` or `\pL`) is remembered as null: no claim is made.
const regexCache = new Map<string, RegExp | null>();
const REGEX_CACHE_MAX = 512;

export function anchoredRegex(pattern: string): RegExp | null {
  let re = regexCache.get(pattern);
  if (re !== undefined) return re;
  try {
    re = new RegExp(`^(?:${pattern})$`, 'su');
  } catch {
    re = null;
  }
  if (regexCache.size >= REGEX_CACHE_MAX) regexCache.clear();
  regexCache.set(pattern, re);
  return re;
}

/**
 * JS regexes backtrack, and here the pattern comes from the caller: `(.*)*x` against a
 * 30-character tenant value would spin for seconds. Only patterns with no quantified
 * group and at most three quantifiers are run (polynomial at worst); others make no claim.
 */
function backtrackingBounded(p: string): boolean {
  if (p.length > 256) return false;
  let quantifiers = 0;
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === '\\') {
      i++;
    } else if (inClass) {
      inClass = ch !== ']';
    } else if (ch === '[') {
      inClass = true;
    } else if (ch === '*' || ch === '+' || ch === '?' || ch === '{') {
      const prev = p[i - 1];
      if (ch === '?' && (prev === '(' || prev === '*' || prev === '+' || prev === '?' || prev === '}')) continue;
      if (prev === ')' || ++quantifiers > 3) return false;
    }
  }
  return true;
}

/** Does `value` satisfy the matcher? undefined when we cannot tell. */
function accepts(op: Matcher['op'], want: string, value: string): boolean | undefined {
  switch (op) {
    case '=':
      return value === want;
    case '!=':
      return value !== want;
    case '=~':
    case '!~': {
      const re = backtrackingBounded(want) ? anchoredRegex(want) : null;
      if (re === null) return undefined;
      return re.test(value) === (op === '=~');
    }
  }
}

/** A `values` tenant conflicts when no allowed value survives all the user's matchers on that label. */
function valuesConflict(c: Extract<LabelConstraint, { kind: 'values' }>, s: SelectorScan): boolean {
  let mentioned = false;
  for (const v of c.values) {
    let ok = true;
    for (let i = 0; i < s.count; i++) {
      if (s.names[i] !== c.label) continue;
      mentioned = true;
      if (accepts(s.ops[i]!, s.values[i]!, v) === false) {
        ok = false;
        break;
      }
    }
    if (ok) return false;
  }
  return mentioned;
}

/** A `regex` tenant: only an exact user value can be decided safely. */
function regexConflict(c: Extract<LabelConstraint, { kind: 'regex' }>, s: SelectorScan): boolean {
  const re = anchoredRegex(c.pattern);
  if (re === null) return false;
  for (let i = 0; i < s.count; i++) {
    if (s.names[i] === c.label && s.ops[i] === '=' && !re.test(s.values[i]!)) return true;
  }
  return false;
}

/** Throws PG_ENFORCE_CONFLICT for the first constraint the selector's own matchers rule out. */
export function checkConflict(constraints: readonly LabelConstraint[], s: SelectorScan, src: string): void {
  for (const c of constraints) {
    const bad = c.kind === 'values' ? valuesConflict(c, s) : regexConflict(c, s);
    if (!bad) continue;
    const text = src.slice(s.from, Math.min(s.to, s.from + 80));
    throw new GatewayError(
      'PG_ENFORCE_CONFLICT',
      `selector ${text} asks for label ${JSON.stringify(c.label)} outside what this tenant may see`,
    );
  }
}
