// Rewrites every `query` or `match[]` parameter of a URL query string or urlencoded form body.
import type { RestrictedTenant } from '../tenancy/tenant.js';
import { tenantSelector } from '../tenancy/tenant.js';

export interface QueryEnforcer {
  query(q: string, t: RestrictedTenant): string;
  match(s: string, t: RestrictedTenant): string;
}

export interface ParamRewrite {
  /** The re-encoded parameters. */
  text: string;
  /** How many target parameters were found and rewritten. */
  count: number;
  /** Rewritten values, for the access log. */
  rewritten: string[];
}

/**
 * Rebuilds the whole parameter string from parsed pairs, so the upstream sees exactly what was enforced
 * (no duplicate-key or encoding tricks survive). Other parameters are kept in order.
 */
export function rewriteParams(raw: string, kind: 'query' | 'match', tenant: RestrictedTenant, enf: QueryEnforcer): ParamRewrite {
  const key = kind === 'query' ? 'query' : 'match[]';
  const input = new URLSearchParams(raw);
  const out = new URLSearchParams();
  const rewritten: string[] = [];
  for (const [k, v] of input) {
    if (k === key) {
      const r = kind === 'query' ? enf.query(v, tenant) : enf.match(v, tenant);
      rewritten.push(r);
      out.append(k, r);
    } else out.append(k, v);
  }
  return { text: out.toString(), count: rewritten.length, rewritten };
}

/** The `match[]` added when a request gives none: the tenant's matchers alone. */
export function defaultMatch(tenant: RestrictedTenant): string {
  return 'match%5B%5D=' + encodeURIComponent(tenantSelector(tenant));
}
