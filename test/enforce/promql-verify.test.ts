// The fail-closed check of a rewrite: each spliced selector re-read from the forwarded text, the rest byte-identical.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { Splices, verifyRewrite } from '../../src/enforce/promql/verify.js';
import type { Matcher } from '../../src/tenancy/tenant.js';

const WANT: Matcher[] = [{ name: 'namespace', op: '=', value: 'a' }];

/** Splices for `src` given as [selector from, selector to, insertion point, added text]. */
function splices(...rows: [number, number, number, string][]): Splices {
  const s = new Splices();
  for (const [from, to, at, added] of rows) s.push(from, to, at, added);
  return s;
}

function refused(out: string, src: string, sp: Splices, why: RegExp): void {
  assert.throws(
    () => verifyRewrite(out, src, sp, WANT),
    (e: unknown) =>
      e instanceof GatewayError &&
      e.code === 'PG_ENFORCE_VERIFY_FAILED' &&
      why.test(String((e as Error & { cause?: Error }).cause?.message)),
  );
}

describe('verifyRewrite', () => {
  // src: `sum(up) + foo{job="x"}`; selectors `up` [4,6) and `foo{job="x"}` [10,22).
  const src = 'sum(up) + foo{job="x"}';
  const good = 'sum(up{namespace="a"}) + foo{job="x",namespace="a"}';
  const sp = () => splices([4, 6, 6, '{namespace="a"}'], [10, 22, 21, ',namespace="a"']);

  it('passes the rewrite as the enforcer builds it (control row)', () => {
    assert.doesNotThrow(() => verifyRewrite(good, src, sp(), WANT));
  });

  it('passes spaces, comments, a trailing comma and quoted names inside the braces', () => {
    const s2 = 'x{ a = "1" , # c\n}';
    const o2 = 'x{ a = "1" ,namespace="a" # c\n}';
    assert.doesNotThrow(() => verifyRewrite(o2, s2, splices([0, s2.length, 12, 'namespace="a"']), WANT));
    const s3 = '{"my.metric"}';
    const o3 = '{"my.metric",namespace="a"}';
    assert.doesNotThrow(() => verifyRewrite(o3, s3, splices([0, s3.length, 12, ',namespace="a"']), WANT));
  });

  it('refuses text changed outside the selectors', () => {
    refused(good.replace('sum(', 'max('), src, sp(), /text changed before a selector/);
    refused(`${good} `, src, sp(), /after the last selector/);
    refused(good.slice(0, -1), src, sp(), /./);
  });

  it('refuses a selector without the tenant matcher, or with another value, name or operator', () => {
    refused(good.replace('foo{job="x",namespace="a"}', 'foo{job="x",namespace="b"}'), src, sp(), /./);
    const src1 = 'sum(up)';
    for (const [added, why] of [
      ['{namespace="b"}', /lacks namespace/],
      ['{namespace!="a"}', /lacks namespace/],
      ['{Namespace="a"}', /lacks namespace/],
      ['{namespace=~"a"}', /lacks namespace/],
      ['{}', /lacks namespace/],
    ] as const) {
      const out = src1.slice(0, 6) + added + src1.slice(6);
      refused(out, src1, splices([4, 6, 6, added]), why);
    }
  });

  it('refuses spliced text that breaks out of the selector', () => {
    const src1 = 'sum(up)';
    for (const added of [
      '{namespace="a"} or x', // a second selector the reader would not vouch for
      '{namespace="a"', // no closing brace
      '{namespace="a"}}',
      '{namespace="a\\q"}', // an escape Go refuses
      '{namespace="a" # \r}', // a comment Prometheus ends at \r
      '{namespace=="a"}',
      '{namespace="a",,}',
    ]) {
      const out = src1.slice(0, 6) + added + src1.slice(6);
      refused(out, src1, splices([4, 6, 6, added]), /./);
    }
  });

  it('refuses splices out of order or at a selector’s first byte', () => {
    refused('{namespace="a"}up', 'up', splices([0, 2, 0, '{namespace="a"}']), /out of order/);
  });
});
