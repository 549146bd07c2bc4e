// The upstream tenant header (X-Scope-OrgID, THANOS-TENANT): rendered from the tenant and checked against Mimir's tenant-ID rules.
import type { Identity } from '../authn/identity.js';
import { GatewayError } from '../errors.js';
import { ConfigError } from '../config/errors.js';
import type { Tenant } from './tenant.js';
import { TemplateError, checkTemplate, parseTemplate, type TemplateVocabulary } from '../lib/template.js';

export interface TenantHeaderConfig {
  name: string;
  template: string;
  allowFederation: boolean;
}

type Part = string | { ref: 'user' } | { ref: 'tenant' } | { ref: 'values'; label: string };

const MAX_IDS = 1000;

/** Mimir/Cortex tenant IDs (dskit ValidTenantID): 1–150 bytes of [A-Za-z0-9!-_.*'()], not `.`/`..`/`__mimir_cluster`. */
const TENANT_ID = /^[A-Za-z0-9!\-_.*'()]{1,150}$/;

export function tenantIdProblem(id: string): string | undefined {
  if (id === '') return 'empty tenant ID';
  if (id.length > 150) return `tenant ID longer than 150 bytes`;
  if (!TENANT_ID.test(id)) return `tenant ID "${id}" has characters outside A-Z a-z 0-9 ! - _ . * ' ( )`;
  if (id === '.' || id === '..') return `tenant ID "${id}" is a path segment`;
  if (id === '__mimir_cluster') return 'tenant ID "__mimir_cluster" is reserved';
  return undefined;
}

const TENANT_HEADER_VOCAB: TemplateVocabulary = {
  variables: { user: 'string', tenant: 'string', values: 'path' },
};

function parse(template: string, at: (string | number)[]): Part[] {
  try {
    const parsed = parseTemplate(template);
    checkTemplate(parsed, TENANT_HEADER_VOCAB);
    return parsed.map((p): Part =>
      typeof p === 'string'
        ? p
        : p.name === 'values'
          ? { ref: 'values', label: p.path! }
          : { ref: p.name as 'user' | 'tenant' },
    );
  } catch (e) {
    if (e instanceof TemplateError) throw ConfigError.at(at, e.message);
    throw e;
  }
}

const invalid = (msg: string): GatewayError => new GatewayError('PG_TENANT_HEADER_INVALID', msg);

/**
 * Returns the header value for a tenant and identity. Each tenant value yields one tenant ID (a
 * literal prefix is repeated: `team-{{values.team}}` → `team-a|team-b`), every ID is checked on its
 * own so a `|` can only come from our join, and several IDs need allowFederation.
 *
 * An unrestricted tenant has no values to name, so the header is omitted ('' is returned and the
 * caller sends no header); only a template made of `{{user}}` alone still renders for it.
 */
export function createTenantHeader(
  cfg: TenantHeaderConfig,
  at: (string | number)[] = ['tenantHeader', 'template'],
): (tenant: Tenant, identity: Identity) => string {
  const parts = parse(cfg.template, at);
  const usesUser = parts.some((p) => typeof p !== 'string' && p.ref === 'user');
  const userOnly = usesUser && parts.every((p) => typeof p === 'string' || p.ref === 'user');
  const memo = new WeakMap<Tenant, string | GatewayError>();

  function render(tenant: Tenant, identity: Identity): string {
    if (tenant.unrestricted && !userOnly) return '';
    let ids = [''];
    for (const p of parts) {
      let options: readonly string[];
      if (typeof p === 'string') options = [p];
      else if (p.ref === 'user') options = [identity.user];
      else {
        if (tenant.unrestricted) return '';
        const c =
          p.ref === 'tenant'
            ? tenant.constraints.length === 1
              ? tenant.constraints[0]
              : undefined
            : tenant.constraints.find((x) => x.label === p.label);
        if (!c)
          throw invalid(
            p.ref === 'tenant'
              ? `{{tenant}} needs a tenant with exactly one label constraint, not ${tenant.id}`
              : `tenant ${tenant.id} has no "${p.label}" values for the ${cfg.name} header`,
          );
        if (c.kind === 'regex')
          throw invalid(
            `tenant ${tenant.id} constrains "${c.label}" by a regex, which cannot be named in the ${cfg.name} header`,
          );
        options = c.values;
      }
      ids = ids.flatMap((prefix) => options.map((o) => prefix + o));
      if (ids.length > MAX_IDS) throw invalid(`more than ${MAX_IDS} tenant IDs for the ${cfg.name} header`);
    }
    for (const id of ids) {
      const problem = tenantIdProblem(id);
      if (problem) throw invalid(`${cfg.name}: ${problem}`);
    }
    // Mimir sorts and deduplicates federated IDs; doing the same keeps the header canonical.
    const unique = [...new Set(ids)].sort();
    if (unique.length > 1 && !cfg.allowFederation) {
      throw invalid(
        `tenant ${tenant.unrestricted ? 'unrestricted' : tenant.id} spans ${unique.length} ${cfg.name} tenants; set allowFederation to query them together`,
      );
    }
    return unique.join('|');
  }

  return (tenant, identity) => {
    // Tenants are interned, so a result that does not depend on the user can be kept per tenant.
    if (usesUser) return render(tenant, identity);
    let out = memo.get(tenant);
    if (out === undefined) {
      try {
        out = render(tenant, identity);
      } catch (e) {
        if (!(e instanceof GatewayError)) throw e;
        out = e;
      }
      memo.set(tenant, out);
    }
    if (out instanceof GatewayError) throw out;
    return out;
  };
}
