// The tenant policy: identity → Tenant from its own claims and the configured rules, refused when nothing applies.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Identity } from '../authn/identity.js';
import type { OnReload } from '../authn/reloadable.js';
import type { TenantRuleConfig, TenantsConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { ConfigError, formatPath, type ConfigIssue } from '../config/errors.js';
import {
  USERS_FILE_CLAIMS,
  claimAt,
  claimStrings,
  compileTemplate,
  expandTemplate,
  specFromClaims,
  type ClaimNames,
  type Template,
} from './claims.js';
import type { Tenant } from './tenant.js';
import { UNRESTRICTED, allowPattern, allowValues, createInterner, unionOf, type Allowed, type Spec } from './union.js';

export type { ClaimNames } from './claims.js';

export interface TenantResolverDeps {
  logger: Logger;
  onReload?: OnReload;
  /** Claim names for token and session identities (auth.jwt.namespacesClaim/labelsClaim). Basic
   * identities always use the users-file names. The singular `namespace` is not read from tokens
   * unless named here: some issuers (Vault) put an unrelated `namespace` claim in every token. */
  claimNames?: ClaimNames;
  /** Where the rules are in the config (a route's own: routes[i].tenants.rules); default tenants.rules. */
  at?: readonly (string | number)[];
}

export interface TenantResolver {
  resolve(identity: Identity): Tenant;
  /** Index in tenants.rules of the first rule with `limits` that matches the identity; -1 when none does. */
  limitRule(identity: Identity): number;
}

interface CompiledRule {
  name: string;
  unrestricted: boolean;
  matches(id: Identity): boolean;
  labels: readonly (readonly [string, readonly Template[]])[];
  regex: readonly (readonly [string, string])[];
  groupPrefix: string | undefined;
}

type Test = (s: string) => boolean;

/**
 * Exact text, or a glob where `*` is any run of characters and `?` one character; always whole-string.
 * promgate's own syntax, matched here only and never sent to a backend, so a JS RegExp is right: every
 * regex metacharacter of the glob is escaped, and `u` makes `?` one code point rather than half of one.
 */
function glob(pattern: string, fold = false): Test {
  const p = fold ? pattern.toLowerCase() : pattern;
  if (!/[*?]/.test(p)) return fold ? (s) => s.toLowerCase() === p : (s) => s === p;
  const re = new RegExp(
    `^${p
      .replace(/[\\^$.|+()[\]{}]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'su',
  );
  return fold ? (s) => re.test(s.toLowerCase()) : (s) => re.test(s);
}

const anyOf = (patterns: string | readonly string[], fold = false): Test => {
  const tests = (typeof patterns === 'string' ? [patterns] : patterns).map((p) => glob(p, fold));
  return (s) => tests.some((t) => t(s));
};

/**
 * Every field given must match (AND); within a field any listed pattern may match (OR). A rule with
 * an empty `match` applies to every identity, anonymous included when anonymous access is enabled.
 * `users` matches Identity.user (the basic username, or the token's userClaim); where users can
 * edit that claim at their provider, match on `claims: {sub: ...}` instead.
 */
export function compileMatch(m: TenantRuleConfig['match']): (id: Identity) => boolean {
  const checks: ((id: Identity) => boolean)[] = [];
  if (m.users) {
    const t = anyOf(m.users);
    checks.push((id) => t(id.user));
  }
  // Email addresses compare case-insensitively: providers differ in the case they report.
  if (m.emails) {
    const t = anyOf(m.emails, true);
    checks.push((id) => id.email !== undefined && t(id.email));
  }
  if (m.groups) {
    const t = anyOf(m.groups);
    checks.push((id) => id.groups.some(t));
  }
  for (const [path, patterns] of Object.entries(m.claims ?? {})) {
    const t = anyOf(patterns);
    checks.push((id) => claimStrings(claimAt(id.claims, path)).some(t));
  }
  return (id) => checks.every((c) => c(id));
}

/** Every problem of rule i that only compiling it finds (templates, a label in both maps), with its key path. */
export function tenantRuleProblems(
  r: TenantRuleConfig,
  i: number,
  at: readonly (string | number)[] = ['tenants', 'rules'],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const [label, v] of Object.entries(r.labels)) {
    const path = [...at, i, 'labels', label];
    if (Object.hasOwn(r.regex, label))
      out.push({ path, message: `label "${label}" is in both labels and regex; use one` });
    for (const text of typeof v === 'string' ? [v] : v) {
      try {
        compileTemplate(text);
      } catch (e) {
        out.push({ path, message: (e as Error).message });
      }
    }
  }
  return out;
}

function compileRule(r: TenantRuleConfig, i: number, path: readonly (string | number)[]): CompiledRule {
  const at = `${formatPath(path)}[${i}]`;
  const problems = tenantRuleProblems(r, i, path);
  if (problems.length > 0) throw ConfigError.of(problems);
  const labels = Object.entries(r.labels).map(
    ([label, v]) => [label, (typeof v === 'string' ? [v] : v).map(compileTemplate)] as const,
  );
  return {
    name: r.name ?? at,
    unrestricted: r.unrestricted,
    matches: compileMatch(r.match),
    labels,
    regex: Object.entries(r.regex),
    groupPrefix: r.groupPrefix,
  };
}

/**
 * The rule's tenant for this identity. If any label's templates yield no value (no email, no
 * matching group, a missing claim) the rule grants nothing at all. Dropping just that label would
 * widen the rule: {namespace: a, cluster: "{{ claims.cluster }}"} without the claim must not become
 * every cluster's namespace a.
 */
function ruleSpec(rule: CompiledRule, id: Identity): Spec | undefined {
  const spec = new Map<string, Allowed>();
  for (const [label, templates] of rule.labels) {
    const values = templates.flatMap((t) => expandTemplate(t, id, rule.groupPrefix));
    if (values.length === 0) return undefined;
    spec.set(label, allowValues(values));
  }
  for (const [label, pattern] of rule.regex) spec.set(label, allowPattern(pattern));
  return spec.size > 0 ? spec : undefined;
}

const DEFAULT_NAMES: ClaimNames = Object.freeze({ namespaces: 'namespaces', labels: 'labels' });

export function createTenantResolver(cfg: TenantsConfig, deps: TenantResolverDeps): TenantResolver {
  const rulesAt = deps.at ?? ['tenants', 'rules'];
  const rules = cfg.rules.map((r, i) => compileRule(r, i, rulesAt));
  const tokenNames = deps.claimNames ?? DEFAULT_NAMES;
  const intern = createInterner();
  const loggedUnrestricted = new LRUCache<string, true>({ max: 10_000 });

  function compute(id: Identity): Tenant {
    // unrestricted wins over everything else, so it is looked for first.
    const open = rules.find((r) => r.unrestricted && r.matches(id));
    if (open) {
      const who = `${id.method}:${id.subject}`;
      if (!loggedUnrestricted.has(who)) {
        loggedUnrestricted.set(who, true);
        deps.logger.info(
          { subject: id.subject, user: id.user, method: id.method, rule: open.name },
          'identity is unrestricted: it sees every tenant',
        );
      }
      return UNRESTRICTED;
    }
    const specs: Spec[] = [];
    if (cfg.fromClaims) {
      const s = specFromClaims(id, id.method === 'basic' ? USERS_FILE_CLAIMS : tokenNames, cfg.namespaceLabel);
      if (s) specs.push(s);
    }
    for (const r of rules) {
      if (!r.unrestricted && r.matches(id)) {
        const s = ruleSpec(r, id);
        if (s) specs.push(s);
      }
    }
    const who = `user ${id.user || id.subject || '(unnamed)'}`;
    if (specs.length === 0)
      throw new GatewayError('PG_TENANT_NONE', `${who} has neither namespaces nor labels and matches no tenant rule`);
    return intern(unionOf(specs, who));
  }

  // Hot path: authenticators hand back the same frozen Identity for a cached credential, so the
  // WeakMap answers most requests. The keyed cache covers identities rebuilt per request (sessions).
  type Outcome = Tenant | GatewayError;
  const byObject = new WeakMap<Identity, Outcome>();
  const byContent = new LRUCache<string, Outcome>({ max: 10_000 });

  // Rules that carry limits, in config order; usually none, so most requests never test a rule here.
  const limited = cfg.rules.flatMap((r, i) => (r.limits ? [{ i, matches: rules[i]!.matches }] : []));
  const ruleOf = new WeakMap<Identity, number>();

  return {
    limitRule(id: Identity): number {
      if (limited.length === 0) return -1;
      let i = ruleOf.get(id);
      if (i === undefined) {
        i = limited.find((r) => r.matches(id))?.i ?? -1;
        ruleOf.set(id, i);
      }
      return i;
    },
    resolve(id: Identity): Tenant {
      let out = byObject.get(id);
      if (out === undefined) {
        const key = JSON.stringify([id.method, id.subject, id.user, id.email ?? null, id.groups, id.claims]);
        out = key.length <= 16_384 ? byContent.get(key) : undefined;
        if (out === undefined) {
          try {
            out = compute(id);
          } catch (e) {
            if (!(e instanceof GatewayError)) throw e;
            out = e;
          }
          if (key.length <= 16_384) byContent.set(key, out);
        }
        byObject.set(id, out);
      }
      if (out instanceof GatewayError) throw out;
      return out;
    },
  };
}
