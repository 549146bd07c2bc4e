// The rewrite LRU of createPromqlEnforcer: a hit skips parsing, entries are per tenant and per kind, size limits hold.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { createPromqlEnforcer, enforceQuery } from '../../src/enforce/promql/index.js';
import type { EnforceOptions } from '../../src/enforce/promql/index.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';

type CacheOptions = EnforceOptions & { cacheSize?: number; cacheMaxBytes?: number };
const tenant = (id: string, ...ns: string[]): RestrictedTenant => ({
  unrestricted: false,
  id,
  constraints: [{ label: 'namespace', kind: 'values', values: ns }],
});
const A = tenant('a', 'team-a');
const B = tenant('b', 'team-b');

/**
 * The enforcer reads its options once when built (cache sizes, maxQueryLength) and then only inside
 * rewrite(), i.e. when it parses. Counting option reads after construction therefore counts parses;
 * a cache hit must read none.
 */
function probed(base: CacheOptions = {}) {
  let reads = 0;
  const opts = new Proxy(base, {
    get(target, key, receiver) {
      reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  const e = createPromqlEnforcer(opts);
  reads = 0;
  /** Runs f and says whether it parsed (read the options) or was served from the cache. */
  const parsed = (f: () => unknown): boolean => {
    const before = reads;
    try {
      f();
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
    }
    return reads > before;
  };
  return { e, parsed };
}

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (err) {
    return err;
  }
  assert.fail('expected a throw');
};

describe('promql rewrite cache', () => {
  it('the probe sees a parse: an uncached enforceQuery reads the options', () => {
    let reads = 0;
    const opts = new Proxy<EnforceOptions>({}, { get: (t, k) => (reads++, Reflect.get(t, k)) });
    assert.equal(enforceQuery('up', A, opts), 'up{namespace="team-a"}');
    assert.ok(reads > 0, 'rewrite() reads its options while parsing');
  });

  it('a repeated query or match[] is served without parsing, with the same answer', () => {
    const { e, parsed } = probed();
    let first = '';
    assert.equal(
      parsed(() => (first = e.query('sum(rate(http_requests_total[5m]))', A))),
      true,
      'first call parses',
    );
    assert.equal(first, 'sum(rate(http_requests_total{namespace="team-a"}[5m]))');
    let again = '';
    assert.equal(
      parsed(() => (again = e.query('sum(rate(http_requests_total[5m]))', A))),
      false,
      'second call is a hit',
    );
    assert.equal(again, first);
    assert.equal(
      parsed(() => e.match('tenant_info', A)),
      true,
    );
    assert.equal(
      parsed(() => e.match('tenant_info', A)),
      false,
    );
  });

  it('a refusal is cached too: the very same error object, no second parse', () => {
    const { e, parsed } = probed();
    const first = caught(() => e.query('sum(', A));
    assert.ok(first instanceof GatewayError && first.code === 'PG_BAD_QUERY');
    assert.equal(
      parsed(() => e.query('sum(', A)),
      false,
    );
    assert.equal(
      caught(() => e.query('sum(', A)),
      first,
      'identical object: served from the entry',
    );
    // The uncached function builds a fresh error every time, so identity really means "cached".
    assert.notEqual(
      caught(() => enforceQuery('sum(', A)),
      caught(() => enforceQuery('sum(', A)),
    );
  });

  it('entries are per tenant: the same query for another tenant parses and gets its own matcher', () => {
    const { e, parsed } = probed();
    let a = '';
    let b = '';
    assert.equal(
      parsed(() => (a = e.query('up', A))),
      true,
    );
    assert.equal(
      parsed(() => (b = e.query('up', B))),
      true,
      "B is not served from A's entry",
    );
    assert.equal(a, 'up{namespace="team-a"}');
    assert.equal(b, 'up{namespace="team-b"}');
    // Both entries now exist side by side and each tenant gets its own back.
    assert.equal(
      parsed(() => assert.equal(e.query('up', A), a)),
      false,
    );
    assert.equal(
      parsed(() => assert.equal(e.query('up', B), b)),
      false,
    );
  });

  it("the key is the tenant's constraints, not its id", () => {
    const { e, parsed } = probed();
    e.query('up', A);
    // Same id, other namespace (e.g. a user whose namespaces changed): must not reuse A's rewrite.
    let moved = '';
    assert.equal(
      parsed(() => (moved = e.query('up', tenant('a', 'team-b')))),
      true,
    );
    assert.equal(moved, 'up{namespace="team-b"}');
    // Another id with exactly A's constraints shares A's entry: the rewrite would be the same text.
    assert.equal(
      parsed(() => assert.equal(e.query('up', tenant('other', 'team-a')), 'up{namespace="team-a"}')),
      false,
    );
    // Value order does not matter either: the canonical selector sorts them.
    e.query('up', tenant('x', 'team-a', 'team-b'));
    assert.equal(
      parsed(() => e.query('up', tenant('y', 'team-b', 'team-a'))),
      false,
    );
  });

  it('query and match[] entries are apart: one never answers for the other', () => {
    const { e, parsed } = probed();
    assert.equal(e.query('sum(up)', A), 'sum(up{namespace="team-a"})');
    assert.equal(
      parsed(() => e.match('sum(up)', A)),
      true,
    );
    const err = caught(() => e.match('sum(up)', A));
    assert.ok(err instanceof GatewayError && err.code === 'PG_BAD_MATCH');
  });

  it('is an LRU bounded by cacheSize', () => {
    const { e, parsed } = probed({ cacheSize: 2 });
    e.query('x1', A);
    e.query('x2', A);
    assert.equal(
      parsed(() => e.query('x1', A)),
      false,
      'x1 is held (and now most recent)',
    );
    e.query('x3', A);
    assert.equal(
      parsed(() => e.query('x2', A)),
      true,
      'x2, the least recent, was evicted',
    );
    assert.equal(
      parsed(() => e.query('x3', A)),
      false,
    );
  });

  it('an entry larger than 1/64 of cacheMaxBytes is never kept', () => {
    // 6400 bytes → entries of at most 100 (2 × (key + rewrite) UTF-16 units).
    const { e, parsed } = probed({ cacheMaxBytes: 6400 });
    const long = `sum(${'a'.repeat(40)})`;
    assert.equal(
      parsed(() => e.query(long, A)),
      true,
    );
    assert.equal(
      parsed(() => e.query(long, A)),
      true,
      'too big to cache: parsed every time',
    );
    e.query('up', A);
    assert.equal(
      parsed(() => e.query('up', A)),
      false,
      'a small entry still is cached',
    );
  });

  it('over-long input is refused before any key is built or parse is run', () => {
    const { e, parsed } = probed({ maxQueryLength: 10 });
    const err = caught(() => e.query('x'.repeat(11), A));
    assert.ok(err instanceof GatewayError && err.code === 'PG_QUERY_TOO_LONG');
    assert.equal(
      parsed(() => e.query('x'.repeat(11), A)),
      false,
    );
    assert.notEqual(
      caught(() => e.query('x'.repeat(11), A)),
      err,
      'a fresh refusal each time: not a cache entry',
    );
  });
});
