// Pure PromQL tenant enforcement (public API): splice the tenant's matchers into every selector, then verify.
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../../errors.js';
import { tenantSelector } from '../../tenancy/tenant.js';
import type { RestrictedTenant } from '../../tenancy/tenant.js';
import { DEFAULT_MAX_QUERY_LENGTH } from './parse.js';
import { prepare, rewrite } from './rewrite.js';
import type { EnforceOptions } from './rewrite.js';

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

export interface PromqlEnforcer {
  query(q: string, t: RestrictedTenant): string;
  match(s: string, t: RestrictedTenant): string;
}

type Outcome = { ok: string } | { err: GatewayError };

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
  const run = (kind: 'q' | 'm', input: string, t: RestrictedTenant): string => {
    // Oversize input is refused without building (or caching) a key as large as itself.
    if (input.length > maxLength) throw new GatewayError('PG_QUERY_TOO_LONG', `query is longer than ${maxLength} bytes`);
    // The NUL cannot occur in tenantSelector output (JSON escapes control characters),
    // so the key splits back into exactly one (kind, tenant, input) triple.
    const key = `${kind}${tenantSelector(t)}\u0000${input}`;
    let hit = cache.get(key);
    if (hit === undefined) {
      try {
        hit = { ok: kind === 'q' ? enforceQuery(input, t, opts) : enforceMatch(input, t, opts) };
      } catch (e) {
        if (!(e instanceof GatewayError)) throw e;
        hit = { err: e };
      }
      cache.set(key, hit);
    }
    if ('err' in hit) throw hit.err;
    return hit.ok;
  };
  return { query: (q, t) => run('q', q, t), match: (s, t) => run('m', s, t) };
}
