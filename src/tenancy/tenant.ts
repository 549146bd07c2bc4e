// The Tenant type: a set of label constraints that every series a caller sees must satisfy.
import { wholeMatcher, type DotMode } from '../lib/re2.js';

/**
 * One label constraint. Either an exact set of allowed values (rendered as `=` for one value,
 * `=~` with every value regex-escaped for several) or an operator-supplied regex pattern
 * (rendered as `=~`, fully anchored by Prometheus; must not match the empty string).
 */
export type LabelConstraint =
  { label: string; kind: 'values'; values: readonly string[] } | { label: string; kind: 'regex'; pattern: string };

export type Tenant =
  | {
      unrestricted: false;
      /** Stable id, used in logs, metrics, cache keys and tenant headers. */
      id: string;
      /** Sorted by label name; at most one constraint per label; never empty. */
      constraints: readonly LabelConstraint[];
    }
  | { unrestricted: true; id: string };

export type RestrictedTenant = Extract<Tenant, { unrestricted: false }>;

/** A PromQL label matcher, as text pieces. */
export interface Matcher {
  name: string;
  op: '=' | '=~' | '!=' | '!~';
  value: string;
}

const REGEX_META = /[\\^$.|?*+()[\]{}]/g;

/** Escape a literal for RE2 (Prometheus regex matchers are RE2, fully anchored). */
export function escapeRegex(s: string): string {
  return s.replace(REGEX_META, '\\$&');
}

/** Turn one constraint into the matcher that enforces it. */
export function constraintMatcher(c: LabelConstraint): Matcher {
  if (c.kind === 'regex') return { name: c.label, op: '=~', value: c.pattern };
  if (c.values.length === 1) return { name: c.label, op: '=', value: c.values[0]! };
  return { name: c.label, op: '=~', value: [...c.values].sort().map(escapeRegex).join('|') };
}

/** Quote a string as a PromQL double-quoted string literal. */
export function quotePromString(s: string): string {
  return JSON.stringify(s);
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function formatMatcher(m: Matcher): string {
  const name = LABEL_NAME.test(m.name) ? m.name : quotePromString(m.name);
  return `${name}${m.op}${quotePromString(m.value)}`;
}

export function tenantMatchers(t: RestrictedTenant): Matcher[] {
  return t.constraints.map(constraintMatcher);
}

const selectors = new WeakMap<RestrictedTenant, string>();

/** `{a="x",b=~"y|z"}`: the selector made of the tenant's matchers alone (built once per tenant object). */
export function tenantSelector(t: RestrictedTenant): string {
  let s = selectors.get(t);
  if (s === undefined) {
    s = `{${tenantMatchers(t).map(formatMatcher).join(',')}}`;
    // Tenants are frozen; a mutable one (a draft being built) is never memoized.
    if (Object.isFrozen(t) && Object.isFrozen(t.constraints)) selectors.set(t, s);
  }
  return s;
}

type ConstraintTest = (v: string | undefined) => boolean;
const compiled = new WeakMap<LabelConstraint, Partial<Record<DotMode, ConstraintTest>>>();
const NOTHING: ConstraintTest = () => false;

/**
 * A predicate for one constraint, used to filter JSON responses (rules, alerts, targets, silences). A
 * regex is read as the backend reads it (Go RE2, whole value, `.` per `mode`); `unknown` admits only
 * what both readings admit. A pattern Go refuses admits nothing (config validation refuses it first).
 */
export function constraintTest(c: LabelConstraint, mode: DotMode = 'unknown'): ConstraintTest {
  let byMode = compiled.get(c);
  let fn = byMode?.[mode];
  if (fn) return fn;
  if (c.kind === 'values') {
    const set = new Set(c.values);
    fn = (v) => v !== undefined && set.has(v);
  } else {
    // Prometheus anchors regex matchers at both ends; a missing label is the empty string.
    const re = wholeMatcher(c.pattern, mode);
    fn = re ? (v) => re(v ?? '') : NOTHING;
  }
  if (!byMode) compiled.set(c, (byMode = {}));
  byMode[mode] = fn;
  return fn;
}

/** True when a label set (alert, rule, target) lies inside the tenant, read with the backend's dot mode. */
export function labelsSatisfy(
  t: Tenant,
  labels: Readonly<Record<string, string>> | undefined,
  mode: DotMode = 'unknown',
): boolean {
  if (t.unrestricted) return true;
  if (!labels) return false;
  // Own properties only: a label named `constructor` must not be satisfied by Object.prototype.
  for (const c of t.constraints)
    if (!constraintTest(c, mode)(Object.hasOwn(labels, c.label) ? labels[c.label] : undefined)) return false;
  return true;
}
