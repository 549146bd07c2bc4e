// Rewrites every `query` or `match[]` parameter of a URL query string or urlencoded form body.
import { GatewayError } from '../errors.js';
import type { RestrictedTenant } from '../tenancy/tenant.js';
import { tenantSelector } from '../tenancy/tenant.js';
import type { QueryFacts } from './promql/facts.js';

export interface QueryEnforcer {
  /** `facts`, when given, receives the time facts of the query (query limits), from the same parse. */
  query(q: string, t: RestrictedTenant, facts?: QueryFacts[]): string;
  match(s: string, t: RestrictedTenant): string;
  /** Time facts of a query that is forwarded unchanged (an unrestricted tenant's). */
  facts?(q: string): QueryFacts;
}

export interface ParamRewrite {
  /** The re-encoded parameters. */
  text: string;
  /** How many target parameters were found and rewritten. */
  count: number;
  /** Rewritten values, for the access log. */
  rewritten: string[];
  /** The rebuilt parameters (`text` is their serialization), for query limits to read and adjust. */
  params: URLSearchParams;
}

/**
 * Rebuilds the whole parameter string from parsed pairs, so the upstream sees exactly what was enforced
 * (no duplicate-key or encoding tricks survive). Other parameters are kept in order.
 */
export function rewriteParams(
  raw: string,
  kind: 'query' | 'match',
  tenant: RestrictedTenant,
  enf: QueryEnforcer,
  facts?: QueryFacts[],
  /** Most `match[]` selectors accepted, with `already` counted before (URL and form together); checked before any is parsed. */
  maxMatch?: { max: number; already: number },
): ParamRewrite {
  const key = kind === 'query' ? 'query' : 'match[]';
  const input = new URLSearchParams(raw);
  if (kind === 'match' && maxMatch && maxMatch.already + input.getAll(key).length > maxMatch.max)
    throw new GatewayError('PG_TOO_MANY_MATCHERS', `more than ${maxMatch.max} match[] selectors in one request`);
  const out = new URLSearchParams();
  const rewritten: string[] = [];
  for (const [k, v] of input) {
    if (k === key) {
      const r = kind === 'query' ? enf.query(v, tenant, facts) : enf.match(v, tenant);
      rewritten.push(r);
      out.append(k, r);
    } else out.append(k, v);
  }
  return { text: out.toString(), count: rewritten.length, rewritten, params: out };
}

/** The `match[]` added when a request gives none: the tenant's matchers alone. */
export function defaultMatch(tenant: RestrictedTenant): string {
  return 'match%5B%5D=' + encodeURIComponent(tenantSelector(tenant));
}
