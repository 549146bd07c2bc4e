// Unit tests of rewriteParams/defaultMatch: every query or match[] occurrence (any spelling) is rewritten, the rest kept in order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { defaultMatch, rewriteParams, vmExtraFilters, type QueryEnforcer } from '../../src/enforce/params.js';
import { createPromqlEnforcer } from '../../src/enforce/promql/index.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';

const A: RestrictedTenant = {
  unrestricted: false,
  id: 'a',
  constraints: [{ label: 'namespace', kind: 'values', values: ['team-a'] }],
};
const TA = 'namespace="team-a"';

/** An enforcer that tags each value and records what it was asked, in order. */
function recorder(): QueryEnforcer & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    query: (q) => (calls.push(`q:${q}`), `Q(${q})`),
    match: (s) => (calls.push(`m:${s}`), `M(${s})`),
  };
}
const entries = (text: string): [string, string][] => [...new URLSearchParams(text)];
const real = createPromqlEnforcer();

describe('rewriteParams: query', () => {
  it('rewrites every occurrence of query, not only the first or the last', () => {
    const enf = recorder();
    const r = rewriteParams('query=up&time=1&query=sum(x)&query=y', 'query', A, enf);
    assert.deepEqual(enf.calls, ['q:up', 'q:sum(x)', 'q:y']);
    assert.equal(r.count, 3);
    assert.deepEqual(r.rewritten, ['Q(up)', 'Q(sum(x))', 'Q(y)']);
    assert.deepEqual(entries(r.text), [
      ['query', 'Q(up)'],
      ['time', '1'],
      ['query', 'Q(sum(x))'],
      ['query', 'Q(y)'],
    ]);
  });

  it('applies the real tenant matcher to each copy', () => {
    const r = rewriteParams('query=sum(node_cpu_seconds_total)&query=up', 'query', A, real);
    assert.deepEqual(r.rewritten, [`sum(node_cpu_seconds_total{${TA}})`, `up{${TA}}`]);
    assert.deepEqual(
      entries(r.text).map(([, v]) => v),
      r.rewritten,
    );
  });

  it('decodes percent-encoded names as the upstream would, and sends them back as plain `query`', () => {
    const enf = recorder();
    const r = rewriteParams('%71uery=a&qu%65ry=b&%71%75%65%72%79=c&query=d', 'query', A, enf);
    assert.deepEqual(enf.calls, ['q:a', 'q:b', 'q:c', 'q:d']);
    assert.equal(r.text, 'query=Q%28a%29&query=Q%28b%29&query=Q%28c%29&query=Q%28d%29');
  });

  it('leaves names that only look like query alone (case, brackets, double encoding, match[])', () => {
    const enf = recorder();
    const raw = 'Query=a&query[]=b&%2571uery=c&match[]=d&queryx=e';
    const r = rewriteParams(raw, 'query', A, enf);
    assert.deepEqual(enf.calls, []);
    assert.equal(r.count, 0);
    // %2571uery decodes once to the literal name %71uery and is re-encoded, so the upstream reads that name too.
    assert.deepEqual(entries(r.text), [
      ['Query', 'a'],
      ['query[]', 'b'],
      ['%71uery', 'c'],
      ['match[]', 'd'],
      ['queryx', 'e'],
    ]);
    assert.match(r.text, /(^|&)%2571uery=c(&|$)/);
  });

  it('keeps the other parameters, their values and their order', () => {
    const r = rewriteParams('start=1&query=up&end=2&step=15s&timeout=3s&lookback_delta=1m', 'query', A, recorder());
    assert.deepEqual(entries(r.text), [
      ['start', '1'],
      ['query', 'Q(up)'],
      ['end', '2'],
      ['step', '15s'],
      ['timeout', '3s'],
      ['lookback_delta', '1m'],
    ]);
  });

  it('decodes + as a space and re-encodes every value, so nothing smuggled survives as a separator', () => {
    const enf = recorder();
    const r = rewriteParams('query=sum+(up)&time=1;query=node_cpu_seconds_total&x=%zz', 'query', A, enf);
    assert.deepEqual(enf.calls, ['q:sum (up)']);
    // `;` and `%` are encoded: an upstream that splits on `;` (pre-1.17 Go) cannot find a second query.
    assert.equal(r.text, 'query=Q%28sum+%28up%29%29&time=1%3Bquery%3Dnode_cpu_seconds_total&x=%25zz');
  });

  it('hands empty values to the enforcer, which refuses them; empty pairs are dropped', () => {
    const enf = recorder();
    const r = rewriteParams('query=&query&&time=1&', 'query', A, enf);
    assert.deepEqual(enf.calls, ['q:', 'q:']);
    assert.equal(r.text, 'query=Q%28%29&query=Q%28%29&time=1');
    for (const raw of ['query=', 'query', 'time=1&query=']) {
      assert.throws(
        () => rewriteParams(raw, 'query', A, real),
        (e) => e instanceof GatewayError && e.code === 'PG_BAD_QUERY',
        raw,
      );
    }
  });

  it('fails closed: one bad copy refuses the whole request', () => {
    assert.throws(
      () => rewriteParams('query=up&query=sum(', 'query', A, real),
      (e) => e instanceof GatewayError && e.code === 'PG_BAD_QUERY',
    );
  });

  it('treats the empty string as no parameters', () => {
    const r = rewriteParams('', 'query', A, recorder());
    assert.deepEqual({ text: r.text, count: r.count, rewritten: r.rewritten }, { text: '', count: 0, rewritten: [] });
  });

  it('reads a form body the same way as a URL query string', () => {
    const body = 'query=up&%71uery=x&timeout=5s';
    const url = rewriteParams(body, 'query', A, real);
    assert.deepEqual(url.rewritten, [`up{${TA}}`, `x{${TA}}`]);
    assert.equal(
      url.text,
      `query=${encodeURIComponent(`up{${TA}}`)}&query=${encodeURIComponent(`x{${TA}}`)}&timeout=5s`,
    );
  });
});

describe('rewriteParams: match[]', () => {
  it('rewrites every match[], in any spelling, and nothing else', () => {
    const enf = recorder();
    const r = rewriteParams('match[]=up&match%5B%5D=a&m%61tch[]=b&match=c&query=d&start=1', 'match', A, enf);
    assert.deepEqual(enf.calls, ['m:up', 'm:a', 'm:b']);
    assert.equal(r.count, 3);
    assert.deepEqual(entries(r.text), [
      ['match[]', 'M(up)'],
      ['match[]', 'M(a)'],
      ['match[]', 'M(b)'],
      ['match', 'c'],
      ['query', 'd'],
      ['start', '1'],
    ]);
    assert.ok(r.text.startsWith('match%5B%5D=M%28up%29&'), r.text);
  });

  it('uses the match enforcer: selectors only, with the real tenant matcher', () => {
    const r = rewriteParams(`match[]=tenant_info&match[]=${encodeURIComponent('{namespace=~".+"}')}`, 'match', A, real);
    assert.deepEqual(r.rewritten, [`tenant_info{${TA}}`, `{namespace=~".+",${TA}}`]);
    for (const raw of ['match[]=sum(up)', 'match[]=', 'match[]=up&match[]=rate(up[5m])']) {
      assert.throws(
        () => rewriteParams(raw, 'match', A, real),
        (e) => e instanceof GatewayError && e.code === 'PG_BAD_MATCH',
        raw,
      );
    }
  });

  it('defaultMatch is the tenant selector alone, encoded as one match[]', () => {
    assert.equal(defaultMatch(A), `match%5B%5D=${encodeURIComponent(`{${TA}}`)}`);
    assert.deepEqual(entries(defaultMatch(A)), [['match[]', `{${TA}}`]]);
    const two: RestrictedTenant = {
      unrestricted: false,
      id: 'x',
      constraints: [
        { label: 'cluster', kind: 'values', values: ['c1'] },
        { label: 'namespace', kind: 'values', values: ['b', 'a'] },
      ],
    };
    assert.deepEqual(entries(defaultMatch(two)), [['match[]', '{cluster="c1",namespace=~"a|b"}']]);
  });
});

describe('rewriteParams: victoriametrics', () => {
  it("drops every client copy of VictoriaMetrics' tenant parameters, in any spelling it decodes", () => {
    const enf = recorder();
    const r = rewriteParams(
      'query=up&extra_filters%5B%5D=%7Bnamespace%3D%22b%22%7D&extra_filters=x&extra_label=namespace%3Db&%65xtra_label=y&extra_filters[]=z',
      'query',
      A,
      enf,
      undefined,
      'victoriametrics',
    );
    assert.deepEqual(entries(r.text), [['query', 'Q(up)']]);
  });

  it('rewrites `match` beside `match[]` (VictoriaMetrics reads and ORs both)', () => {
    const enf = recorder();
    const r = rewriteParams('match[]=up&match=x&start=1', 'match', A, enf, undefined, 'victoriametrics');
    assert.deepEqual(enf.calls, ['m:up', 'm:x']);
    assert.equal(r.count, 2);
    assert.deepEqual(entries(r.text), [
      ['match[]', 'M(up)'],
      ['match', 'M(x)'],
      ['start', '1'],
    ]);
  });

  it('leaves `match` and extra_filters alone for a Prometheus upstream (it reads neither)', () => {
    const enf = recorder();
    const r = rewriteParams('match=x&extra_filters[]=y', 'match', A, enf);
    assert.equal(r.count, 0);
    assert.deepEqual(entries(r.text), [
      ['match', 'x'],
      ['extra_filters[]', 'y'],
    ]);
  });

  it("promgate's own extra_filters[] is the tenant selector", () => {
    assert.deepEqual(entries(vmExtraFilters(A)), [['extra_filters[]', `{${TA}}`]]);
  });
});
