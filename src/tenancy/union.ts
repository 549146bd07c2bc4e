// Tenant algebra: per-label allowed sets, their exact union, and interned frozen Tenant objects.
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import { wholeMatcher } from '../lib/re2.js';
import { escapeRegex, tenantSelector, type LabelConstraint, type RestrictedTenant, type Tenant } from './tenant.js';

/** What one label may be: any of these literal values, or anything one of these regexes matches. */
export interface Allowed {
  readonly values: ReadonlySet<string>;
  readonly patterns: ReadonlySet<string>;
}

/** A conjunction of per-label allowances (one source's tenant before interning). */
export type Spec = ReadonlyMap<string, Allowed>;

export const allowValues = (values: Iterable<string>): Allowed => ({ values: new Set(values), patterns: new Set() });
export const allowPattern = (pattern: string): Allowed => ({ values: new Set(), patterns: new Set([pattern]) });

function alternatives(a: Allowed): string[] {
  return [...[...a.values].map(escapeRegex), ...a.patterns].sort();
}

function toConstraint(label: string, a: Allowed): LabelConstraint {
  if (a.patterns.size === 0) return { label, kind: 'values', values: [...a.values].sort() };
  // An operator's single regex stays as written; a union becomes `(?:p1)|(?:p2)`, each part anchored by Prometheus.
  if (a.patterns.size === 1 && a.values.size === 0) return { label, kind: 'regex', pattern: [...a.patterns][0]! };
  return {
    label,
    kind: 'regex',
    pattern: alternatives(a)
      .map((p) => `(?:${p})`)
      .join('|'),
  };
}

function allowedKey(a: Allowed): string {
  return JSON.stringify([[...a.values].sort(), [...a.patterns].sort()]);
}

function specKey(s: Spec): string {
  return JSON.stringify([...s.keys()].sort().map((l) => [l, allowedKey(s.get(l)!)]));
}

/**
 * Whether the backend's `=~pattern` admits v. Tenants are built before a route is known, so `.` is
 * read both ways (`unknown`): a value is dropped into a pattern only when every backend admits it there.
 */
function matches(pattern: string, v: string): boolean {
  return wholeMatcher(pattern, 'unknown')?.(v) === true;
}

/** x ⊆ y for one label. Regexes are compared as text: containment between regexes is not decided. */
function within(x: Allowed, y: Allowed): boolean {
  for (const v of x.values) if (!y.values.has(v) && ![...y.patterns].some((p) => matches(p, v))) return false;
  for (const p of x.patterns) if (!y.patterns.has(p)) return false;
  return true;
}

/** Every series x admits, y admits too: y constrains no label x leaves free, and is wider on each. */
function subsumedBy(x: Spec, y: Spec): boolean {
  for (const [label, ya] of y) {
    const xa = x.get(label);
    if (!xa || !within(xa, ya)) return false;
  }
  return true;
}

/** The one label on which two specs over the same labels differ, null if they differ on several. */
function soleDifference(x: Spec, y: Spec): string | null {
  if (x.size !== y.size) return null;
  let diff: string | null = null;
  for (const [label, xa] of x) {
    const ya = y.get(label);
    if (!ya) return null;
    if (allowedKey(xa) === allowedKey(ya)) continue;
    if (diff !== null) return null;
    diff = label;
  }
  return diff;
}

/**
 * The exact union of several tenants, or a refusal. A tenant is a conjunction of per-label
 * constraints, and the union of two conjunctions is again one only when one contains the other or
 * they differ on a single label. Each step below is exact, so the result never admits a series
 * that no source admitted; when no step applies the union is refused rather than widened.
 */
export function unionOf(specs: readonly Spec[], who: string): Spec {
  const byKey = new Map<string, Spec>();
  for (const s of specs) byKey.set(specKey(s), s);
  let list = [...byKey.values()];
  for (;;) {
    list = list.filter((x, i) => !list.some((y, j) => j !== i && subsumedBy(x, y) && (!subsumedBy(y, x) || j < i)));
    if (list.length === 1) return list[0]!;
    if (list.length === 0) throw new GatewayError('PG_INTERNAL', 'empty tenant union');
    let merged = false;
    outer: for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const label = soleDifference(list[i]!, list[j]!);
        if (label === null) continue;
        const a = list[i]!.get(label)!;
        const b = list[j]!.get(label)!;
        const next = new Map(list[i]!);
        next.set(label, {
          values: new Set([...a.values, ...b.values]),
          patterns: new Set([...a.patterns, ...b.patterns]),
        });
        list = [...list.filter((_, k) => k !== i && k !== j), next];
        merged = true;
        break outer;
      }
    }
    if (!merged) {
      throw new GatewayError(
        'PG_TENANT_UNREPRESENTABLE',
        `${who} gets several tenants whose union cannot be expressed as one label matcher per label; refusing rather than widening access`,
      );
    }
  }
}

export const UNRESTRICTED: Tenant = Object.freeze({ unrestricted: true as const, id: 'unrestricted' });

/** A constraint's meaning as a key: its kind is part of it, so `a|b` the regex and [a, b] the values differ. */
function constraintKey(c: LabelConstraint): string {
  return JSON.stringify(c.kind === 'values' ? [c.label, 'values', c.values] : [c.label, 'regex', c.pattern]);
}

/**
 * The same constraints always give the same frozen object, so later stages can cache by identity. Tenants
 * are interned by their structured constraints, not by their rendered selector: the regex tenant `a|b` and
 * the values tenant [a, b] render alike but differ in what a tenant header may name (federation), so one
 * must never stand for the other, whichever was seen first. Their `id` (the selector) may coincide; every
 * cache keyed by it holds answers that depend only on the selector, which is the same.
 */
export function createInterner(max = 10_000): (spec: Spec) => RestrictedTenant {
  const table = new LRUCache<string, RestrictedTenant>({ max });
  return (spec) => {
    if (spec.size === 0) throw new GatewayError('PG_INTERNAL', 'a tenant without constraints');
    const constraints = [...spec.keys()].sort().map((l) => {
      const c = toConstraint(l, spec.get(l)!);
      return Object.freeze(c.kind === 'values' ? { ...c, values: Object.freeze(c.values) } : c);
    });
    const key = constraints.map(constraintKey).join('\n');
    const known = table.get(key);
    if (known) return known;
    const draft: RestrictedTenant = { unrestricted: false, id: '', constraints: Object.freeze(constraints) };
    const tenant = Object.freeze({ ...draft, id: tenantSelector(draft) });
    table.set(key, tenant);
    return tenant;
  };
}
