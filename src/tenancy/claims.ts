// Reading tenants out of identity claims (namespaces, labels), claim paths, and {{ }} label templates.
import { LABEL_NAME_RE } from '../config/derived.js';
import { GatewayError } from '../errors.js';
import type { Identity } from '../authn/identity.js';
import { allowValues, type Allowed, type Spec } from './union.js';
import { checkTemplate, parseTemplate, type TemplateVocabulary } from '../lib/template.js';

/** Where the tenant lives in the claims. `namespace` (one string) is read only when named. */
export interface ClaimNames {
  namespaces: string;
  labels: string;
  namespace?: string;
}

/** The users-file fields, which basic identities always carry under these names. */
export const USERS_FILE_CLAIMS: ClaimNames = Object.freeze({
  namespaces: 'namespaces',
  labels: 'labels',
  namespace: 'namespace',
});

function refuse(id: Identity, what: string): GatewayError {
  // A claim of the wrong shape is refused loudly: ignoring it could leave a wider tenant from other sources.
  return new GatewayError('PG_TENANT_NONE', `user ${id.user || id.subject}: ${what}`);
}

function stringList(id: Identity, v: unknown, name: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw refuse(id, `claim "${name}" must be a list of strings`);
  for (const x of v)
    if (typeof x !== 'string' || x === '') throw refuse(id, `claim "${name}" must be a list of non-empty strings`);
  return v as string[];
}

/**
 * The tenant that the identity's own claims describe, or undefined when they describe none.
 * Namespaces become one constraint on `namespaceLabel`; each `labels` key one more. Empty lists
 * count as nothing. If both name the namespace label, both must hold, so their values intersect.
 */
export function specFromClaims(id: Identity, names: ClaimNames, namespaceLabel: string): Spec | undefined {
  const c = id.claims;
  const namespaces = [...stringList(id, c[names.namespaces], names.namespaces)];
  if (names.namespace !== undefined) {
    const one = c[names.namespace];
    if (typeof one === 'string' && one !== '') namespaces.unshift(one);
    else if (one !== undefined && one !== null && one !== '')
      throw refuse(id, `claim "${names.namespace}" must be a string`);
  }
  const spec = new Map<string, Allowed>();
  const labels = c[names.labels];
  if (labels !== undefined && labels !== null) {
    if (typeof labels !== 'object' || Array.isArray(labels))
      throw refuse(id, `claim "${names.labels}" must be a map of label: value or label: [values]`);
    for (const [label, v] of Object.entries(labels)) {
      if (!LABEL_NAME_RE.test(label))
        throw refuse(id, `claim "${names.labels}" has "${label}", which is not a label name`);
      const values =
        typeof v === 'string' && v !== ''
          ? [v]
          : Array.isArray(v)
            ? stringList(id, v, `${names.labels}.${label}`)
            : undefined;
      if (values === undefined)
        throw refuse(id, `claim "${names.labels}.${label}" must be a non-empty string or a list of strings`);
      if (values.length > 0) spec.set(label, allowValues(values));
    }
  }
  if (namespaces.length > 0) {
    const prior = spec.get(namespaceLabel);
    const merged = prior ? namespaces.filter((n) => prior.values.has(n)) : namespaces;
    if (merged.length === 0) throw refuse(id, `namespaces and labels.${namespaceLabel} do not overlap`);
    spec.set(namespaceLabel, allowValues(merged));
  }
  return spec.size > 0 ? spec : undefined;
}

/** A claim by dotted path (`realm_access.roles`); a key that itself contains dots is found first. */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Claim values as strings: strings, numbers and booleans, alone or in a list; anything else none. */
export function claimStrings(v: unknown): string[] {
  const one = (x: unknown): string | undefined =>
    typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined;
  if (Array.isArray(v)) return v.map(one).filter((x): x is string => x !== undefined);
  const s = one(v);
  return s === undefined ? [] : [s];
}

type Part = string | { ref: 'user' } | { ref: 'email' } | { ref: 'group' } | { ref: 'claim'; path: string };
export type Template = readonly Part[];

const TENANT_RULE_VOCAB: TemplateVocabulary = {
  variables: { user: 'string', email: 'string', group: 'string', claims: 'path' },
};

/** Compile `team-{{ group }}`; throws a message naming the problem (the caller adds the config path). */
export function compileTemplate(text: string): Template {
  const parsed = parseTemplate(text);
  checkTemplate(parsed, TENANT_RULE_VOCAB);
  return parsed.map((p): Part =>
    typeof p === 'string'
      ? p
      : p.name === 'claims'
        ? { ref: 'claim', path: p.path! }
        : { ref: p.name as 'user' | 'email' | 'group' },
  );
}

export const isLiteral = (t: Template): boolean => t.every((p) => typeof p === 'string');

const MAX_EXPANSION = 1000;

/**
 * Every value the template yields for this identity. `{{ group }}` and list claims yield one value
 * each (the product when several appear); a placeholder with nothing behind it yields no values.
 */
export function expandTemplate(t: Template, id: Identity, groupPrefix: string | undefined): string[] {
  let out = [''];
  for (const p of t) {
    let options: string[];
    if (typeof p === 'string') options = [p];
    else if (p.ref === 'user') options = [id.user];
    else if (p.ref === 'email') options = id.email === undefined ? [] : [id.email];
    else if (p.ref === 'group') {
      const pre = groupPrefix ?? '';
      options = id.groups.filter((g) => g.startsWith(pre)).map((g) => g.slice(pre.length));
    } else options = claimStrings(claimAt(id.claims, p.path));
    options = options.filter((o) => o !== '');
    out = out.flatMap((prefix) => options.map((o) => prefix + o));
    if (out.length === 0) return [];
    if (out.length > MAX_EXPANSION)
      throw new GatewayError('PG_TENANT_UNREPRESENTABLE', `a tenant template expands to over ${MAX_EXPANSION} values`);
  }
  return [...new Set(out)].filter((v) => v !== '');
}
