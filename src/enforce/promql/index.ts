// Pure PromQL tenant enforcement (public API): splice the tenant's matchers into every selector, then verify.
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../../errors.js';
import { tenantSelector } from '../../tenancy/tenant.js';
import type { RestrictedTenant } from '../../tenancy/tenant.js';
import { DEFAULT_MAX_QUERY_LENGTH } from './parse.js';
import { prepare, rewrite } from './rewrite.js';
import type { EnforceOptions } from './rewrite.js';
import { FactsCollector, scanFacts, type QueryFacts } from './facts.js';

export type { EnforceOptions } from './rewrite.js';

/** Rewrite a PromQL expression so every selector carries every tenant matcher. Throws GatewayError. */
export function enforceQuery(query: string, tenant: RestrictedTenant, opts?: EnforceOptions): string {
  return rewrite(query, prepare(tenant), opts, false);
}

function asBadMatch(e: unknown): unknown {
  if (e instanceof GatewayError && e.code === 'PG_BAD_QUERY') {
    return new GatewayError('PG_BAD_MATCH', `bad match[] selector: ${e.message}`);
  }
  return e;
}

/** Rewrite one `match[]` value. It must be a single vector selector, else PG_BAD_MATCH. */
export function enforceMatch(selector: string, tenant: RestrictedTenant, opts?: EnforceOptions): string {
  const p = prepare(tenant);
  try {
    return rewrite(selector, p, opts, true);
  } catch (e) {
    throw asBadMatch(e);
  }
}

/** Rewrite a query and report its time facts (query limits) from the same parse. */
export function enforceQueryWithFacts(
  query: string,
  tenant: RestrictedTenant,
  opts?: EnforceOptions,
): { text: string; facts: QueryFacts } {
  const text = rewrite(query, prepare(tenant), opts, false, collector);
  return { text, facts: collector.result() };
}

const collector = new FactsCollector();

export interface PromqlEnforcer {
  /** `facts`, when given, receives the query's time facts (from the cache, or from the rewrite's own walk). */
  query(q: string, t: RestrictedTenant, facts?: QueryFacts[]): string;
  match(s: string, t: RestrictedTenant): string;
  /** Facts of a query that is not rewritten (an unrestricted tenant's): parsed once, cached. */
  facts(q: string): QueryFacts;
}

type Done = { ok: string; facts?: QueryFacts };
type Outcome = Done | { err: GatewayError };

/**
 * The same two functions behind an LRU keyed by (canonical tenant, input, kind). Refusals
 * are cached too, so a client repeating a bad query costs nothing. The byte budget stops a
 * stream of 64 KiB queries from pinning gigabytes.
 */
export function createPromqlEnforcer(
  opts: EnforceOptions & { cacheSize?: number; cacheMaxBytes?: number } = {},
): PromqlEnforcer {
  const maxSize = opts.cacheMaxBytes ?? 64 * 1024 * 1024;
  const cache = new LRUCache<string, Outcome>({
    max: opts.cacheSize ?? 10000,
    maxSize,
    maxEntrySize: Math.max(1, Math.floor(maxSize / 64)),
    sizeCalculation: (v, k) => 2 * (k.length + ('ok' in v ? v.ok.length : 64)),
  });
  const maxLength = opts.maxQueryLength ?? DEFAULT_MAX_QUERY_LENGTH;
  const compute = (kind: 'q' | 'm' | 'f', input: string, t: RestrictedTenant | undefined): Outcome => {
    if (kind === 'q') {
      const r = enforceQueryWithFacts(input, t!, opts);
      return { ok: r.text, facts: r.facts };
    }
    if (kind === 'm') return { ok: enforceMatch(input, t!, opts) };
    return { ok: '', facts: scanFacts(input, maxLength) };
  };
  const run = (kind: 'q' | 'm' | 'f', input: string, t: RestrictedTenant | undefined): Done => {
    // Oversize input is refused without building (or caching) a key as large as itself.
    if (input.length > maxLength)
      throw new GatewayError('PG_QUERY_TOO_LONG', `query is longer than ${maxLength} bytes`);
    // The NUL cannot occur in tenantSelector output (JSON escapes control characters),
    // so the key splits back into exactly one (kind, tenant, input) triple.
    const key = `${kind}${t ? tenantSelector(t) : ''}\u0000${input}`;
    let hit = cache.get(key);
    if (hit === undefined) {
      try {
        hit = compute(kind, input, t);
      } catch (e) {
        if (!(e instanceof GatewayError)) throw e;
        hit = { err: e };
      }
      cache.set(key, hit);
    }
    if ('err' in hit) throw hit.err;
    return hit;
  };
  return {
    query(q, t, facts) {
      const hit = run('q', q, t);
      if (facts) facts.push(hit.facts!);
      return hit.ok;
    },
    match: (s, t) => run('m', s, t).ok,
    facts: (q) => run('f', q, undefined).facts!,
  };
}
