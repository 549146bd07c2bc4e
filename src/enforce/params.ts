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
  backend: ParamBackend = 'prometheus',
  /** Most `match[]` selectors accepted, with `already` counted before (URL and form together); checked before any is parsed. */
  maxMatch?: { max: number; already: number },
): ParamRewrite {
  const keys = backend === 'victoriametrics' && kind === 'match' ? VM_MATCH_KEYS : kind === 'query' ? QUERY : MATCH;
  const input = new URLSearchParams(raw);
  if (kind === 'match' && maxMatch && maxMatch.already + countKeys(input, keys) > maxMatch.max)
    throw new GatewayError('PG_TOO_MANY_MATCHERS', `more than ${maxMatch.max} match[] selectors in one request`);
  const out = new URLSearchParams();
  const rewritten: string[] = [];
  for (const [k, v] of input) {
    if (backend === 'victoriametrics' && VM_TENANT_KEYS.has(k)) continue;
    if (keys.has(k)) {
      const r = kind === 'query' ? enf.query(v, tenant, facts) : enf.match(v, tenant);
      rewritten.push(r);
      out.append(k, r);
    } else out.append(k, v);
  }
  return { text: out.toString(), count: rewritten.length, rewritten, params: out };
}

function countKeys(params: URLSearchParams, keys: ReadonlySet<string>): number {
  let n = 0;
  for (const k of params.keys()) if (keys.has(k)) n++;
  return n;
}

/** Which API reads the parameters: VictoriaMetrics reads more of them (below). */
export type ParamBackend = 'prometheus' | 'victoriametrics';

const QUERY: ReadonlySet<string> = new Set(['query']);
const MATCH: ReadonlySet<string> = new Set(['match[]']);
/** VictoriaMetrics' getCommonParams reads `match` beside `match[]` and ORs them: both are rewritten. */
const VM_MATCH_KEYS: ReadonlySet<string> = new Set(['match[]', 'match']);
/**
 * VictoriaMetrics' own tenant parameters (app/vmselect/searchutils GetExtraTagFilters): each `extra_filters`
 * or `extra_filters[]` is one more alternative (ORed), `extra_label` is ANDed. A client's copies are dropped;
 * promgate adds its own (`vmExtraFilters`).
 */
const VM_TENANT_KEYS: ReadonlySet<string> = new Set(['extra_filters', 'extra_filters[]', 'extra_label']);

/** The `extra_filters[]` parameter carrying the tenant's matchers: VictoriaMetrics ANDs it to every selector it reads. */
export function vmExtraFilters(tenant: RestrictedTenant): string {
  return 'extra_filters%5B%5D=' + encodeURIComponent(tenantSelector(tenant));
}

/** The `match[]` added when a request gives none: the tenant's matchers alone. */
export function defaultMatch(tenant: RestrictedTenant): string {
  return 'match%5B%5D=' + encodeURIComponent(tenantSelector(tenant));
}
