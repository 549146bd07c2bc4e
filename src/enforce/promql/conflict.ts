// errorOnConflict: find user matchers that can never match inside the tenant, so we can say 403, not "no data".
import { GatewayError } from '../../errors.js';
import type { LabelConstraint, Matcher } from '../../tenancy/tenant.js';
import type { SelectorScan } from './scan.js';
import { wholeMatchAnyMode } from '../../lib/re2.js';

/**
 * Bounds the cost of compiling a caller's pattern on the event loop. RE2 matches in linear time, but
 * compiling grows with the pattern and with counted repetition of large classes (`\pL{32}` takes tens
 * of milliseconds in re2js), and here the pattern comes from the caller. Long patterns and counts above
 * 8 make no claim; Prometheus still answers them.
 */
function cheapToCompile(p: string): boolean {
  if (p.length > 128) return false;
  for (const m of p.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) {
    if (Number(m[1]) > 8 || (m[2] !== undefined && m[2] !== '' && Number(m[2]) > 8)) return false;
  }
  return true;
}

/**
 * Does `value` satisfy the matcher as the backend reads it (Go RE2, whole value)? undefined when we
 * cannot tell: a pattern Go refuses (Prometheus answers that with its own error), one too costly to
 * compile, or one whose answer depends on whether the backend's `.` matches "\n" (only a refusal that
 * holds for Prometheus 2 and 3 alike is made).
 */
function accepts(op: Matcher['op'], want: string, value: string): boolean | undefined {
  switch (op) {
    case '=':
      return value === want;
    case '!=':
      return value !== want;
    case '=~':
    case '!~': {
      const m = cheapToCompile(want) ? wholeMatchAnyMode(want, value) : undefined;
      return m === undefined ? undefined : m === (op === '=~');
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

/** A `regex` tenant: only an exact user value can be decided safely, and only when no backend admits it. */
function regexConflict(c: Extract<LabelConstraint, { kind: 'regex' }>, s: SelectorScan): boolean {
  for (let i = 0; i < s.count; i++) {
    if (s.names[i] === c.label && s.ops[i] === '=' && wholeMatchAnyMode(c.pattern, s.values[i]!) === false) return true;
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
