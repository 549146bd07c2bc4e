// The Tenant type: a set of label constraints that every series a caller sees must satisfy.

/**
 * One label constraint. Either an exact set of allowed values (rendered as `=` for one value,
 * `=~` with every value regex-escaped for several) or an operator-supplied regex pattern
 * (rendered as `=~`, fully anchored by Prometheus; must not match the empty string).
 */
export type LabelConstraint =
  | { label: string; kind: 'values'; values: readonly string[] }
  | { label: string; kind: 'regex'; pattern: string };

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

const compiled = new WeakMap<LabelConstraint, (v: string | undefined) => boolean>();

/** A predicate for one constraint, used to filter JSON responses (rules, alerts, targets, silences). */
export function constraintTest(c: LabelConstraint): (v: string | undefined) => boolean {
  let fn = compiled.get(c);
  if (fn) return fn;
  if (c.kind === 'values') {
    const set = new Set(c.values);
    fn = (v) => v !== undefined && set.has(v);
  } else {
    // Prometheus anchors regex matchers at both ends; a missing label is the empty string.
    const re = new RegExp(`^(?:${c.pattern})$`, 'su');
    fn = (v) => re.test(v ?? '');
  }
  compiled.set(c, fn);
  return fn;
}

/** True when a label set (alert, rule, target) lies inside the tenant. */
export function labelsSatisfy(t: Tenant, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (t.unrestricted) return true;
  if (!labels) return false;
  // Own properties only: a label named `constructor` must not be satisfied by Object.prototype.
  for (const c of t.constraints) if (!constraintTest(c)(Object.hasOwn(labels, c.label) ? labels[c.label] : undefined)) return false;
  return true;
}
