// Table tests for the PromQL tenant enforcer: exact rewrites, refusals with their codes, escaping and the cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { createPromqlEnforcer, enforceMatch, enforceQuery } from '../../src/enforce/promql/index.js';
import type { EnforceOptions } from '../../src/enforce/promql/index.js';
import { decodePromString } from '../../src/enforce/promql/strings.js';
import { parse as parsePromql } from '../../src/enforce/promql/parse.js';
import type { LabelConstraint, RestrictedTenant } from '../../src/tenancy/tenant.js';

const tenant = (...constraints: LabelConstraint[]): RestrictedTenant => ({ unrestricted: false, id: 't', constraints });
const values = (label: string, ...vs: string[]): LabelConstraint => ({ label, kind: 'values', values: vs });
const regex = (label: string, pattern: string): LabelConstraint => ({ label, kind: 'regex', pattern });

const A = tenant(values('namespace', 'a'));
const TA = 'namespace="a"';
const TENANTS: Record<string, RestrictedTenant> = {
  A,
  multi: tenant(values('namespace', 'b', 'a')),
  dotted: tenant(values('namespace', 'tenant.d', 'tenant.e')),
  dot1: tenant(values('namespace', 'tenant.d')),
  regex: tenant(regex('namespace', 'team-.+')),
  twoLabels: tenant(values('cluster', 'c1'), values('namespace', 'a')),
  quotedName: tenant(values('k8s.namespace', 'a')),
  quote: tenant(values('namespace', 'a"b')),
  backslash: tenant(values('namespace', 'back\\slash')),
  pipe: tenant(values('namespace', 'x|y', 'z')),
  newline: tenant(values('namespace', 'line\nbreak')),
};

// [input, expected output, tenant name (default A)]
type Case = [string, string, string?];
const CASES: Case[] = [
  // plain selectors and braces
  ['up', `up{${TA}}`],
  ['foo:bar:rate5m', `foo:bar:rate5m{${TA}}`],
  ['foo{}', `foo{${TA}}`],
  ['{}', `{${TA}}`],
  ['foo{ }', `foo{${TA} }`],
  ['foo{a="b"}', `foo{a="b",${TA}}`],
  ['foo{a="b",}', `foo{a="b",${TA},}`],
  [`foo{ a = "b" , c != 'd' }`, `foo{ a = "b" , c != 'd',${TA} }`],
  ['foo{a=~"b.*", c!~`x|y`}', `foo{a=~"b.*", c!~\`x|y\`,${TA}}`],
  ['foo {a="b"}', `foo {a="b",${TA}}`],
  ['{__name__="up"}', `{__name__="up",${TA}}`],
  ['{job="x"}', `{job="x",${TA}}`],
  ['foo{offset="1", on="2", bool="3"}', `foo{offset="1", on="2", bool="3",${TA}}`],
  ['sum', `sum{${TA}}`],
  ['rate', `rate{${TA}}`],
  ['foo{a="}"}', `foo{a="}",${TA}}`],
  ['foo{a="\\"}"}', `foo{a="\\"}",${TA}}`],
  ['foo{a="#"}', `foo{a="#",${TA}}`],
  [`foo{a='"'}`, `foo{a='"',${TA}}`],
  ['foo{a=`\\`}', `foo{a=\`\\\`,${TA}}`],
  // quoted UTF-8 names
  ['{"foo.bar"}', `{"foo.bar",${TA}}`],
  ['{"foo.bar", job="x"}', `{"foo.bar", job="x",${TA}}`],
  ['{"foo.bar"="x"}', `{"foo.bar"="x",${TA}}`],
  [`{'foo.bar'}`, `{'foo.bar',${TA}}`],
  ['{`foo.bar`, "a.b"=~"c"}', `{\`foo.bar\`, "a.b"=~"c",${TA}}`],
  ['rate({"http.requests"}[5m])', `rate({"http.requests",${TA}}[5m])`],
  // ranges, subqueries, offset and @
  ['rate(x[5m])', `rate(x{${TA}}[5m])`],
  // Prometheus 2.x name of double_exponential_smoothing: parsed, enforced and forwarded under its own name.
  ['holt_winters(x[5m], 0.5, 0.5)', `holt_winters(x{${TA}}[5m], 0.5, 0.5)`],
  [
    'holt_winters (x[1m],0.1,0.9) + holt_winters_total',
    `holt_winters (x{${TA}}[1m],0.1,0.9) + holt_winters_total{${TA}}`,
  ],
  ['double_exponential_smoothing(x[5m], 0.5, 0.5)', `double_exponential_smoothing(x{${TA}}[5m], 0.5, 0.5)`],
  ['irate(x{a="b"}[1m])', `irate(x{a="b",${TA}}[1m])`],
  ['increase(x[1h])', `increase(x{${TA}}[1h])`],
  ['rate(x[5m:])', `rate(x{${TA}}[5m:])`],
  ['rate(x[5m])[30m:1m]', `rate(x{${TA}}[5m])[30m:1m]`],
  ['max_over_time(rate(x[5m])[1h:5m])', `max_over_time(rate(x{${TA}}[5m])[1h:5m])`],
  ['avg_over_time(x[5m] offset 1h)', `avg_over_time(x{${TA}}[5m] offset 1h)`],
  ['x offset 5m', `x{${TA}} offset 5m`],
  ['x offset -5m', `x{${TA}} offset -5m`],
  ['x @ start()', `x{${TA}} @ start()`],
  ['x @ end()', `x{${TA}} @ end()`],
  ['x @ 123', `x{${TA}} @ 123`],
  ['x{a="b"}[5m] @ 123 offset 5m', `x{a="b",${TA}}[5m] @ 123 offset 5m`],
  ['rate(x[5m] @ end())', `rate(x{${TA}}[5m] @ end())`],
  ['rate(x[5m+1m])', `rate(x{${TA}}[5m+1m])`],
  ['x{} offset 1h @ start()', `x{${TA}} offset 1h @ start()`],
  // binary operators
  ['a + b', `a{${TA}} + b{${TA}}`],
  ['a / on(job) b', `a{${TA}} / on(job) b{${TA}}`],
  ['a * ignoring(instance) group_left(team) b', `a{${TA}} * ignoring(instance) group_left(team) b{${TA}}`],
  ['a > bool 5', `a{${TA}} > bool 5`],
  ['a == bool on(x) group_right b', `a{${TA}} == bool on(x) group_right b{${TA}}`],
  ['a and b', `a{${TA}} and b{${TA}}`],
  ['a or b', `a{${TA}} or b{${TA}}`],
  ['a unless on(job) b', `a{${TA}} unless on(job) b{${TA}}`],
  ['a ^ b % c', `a{${TA}} ^ b{${TA}} % c{${TA}}`],
  ['1 + a', `1 + a{${TA}}`],
  ['a atan2 b', `a{${TA}} atan2 b{${TA}}`],
  ['(a + b) * c', `(a{${TA}} + b{${TA}}) * c{${TA}}`],
  ['((a))', `((a{${TA}}))`],
  ['-a', `-a{${TA}}`],
  ['- - a', `- - a{${TA}}`],
  ['+a', `+a{${TA}}`],
  // aggregations and their parameters
  ...['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar'].map((op): Case => [
    `${op}(x)`,
    `${op}(x{${TA}})`,
  ]),
  ['sum(rate(x[5m])) by (job)', `sum(rate(x{${TA}}[5m])) by (job)`],
  ['sum by (job) (rate(x[5m]))', `sum by (job) (rate(x{${TA}}[5m]))`],
  ['sum without (instance) (x)', `sum without (instance) (x{${TA}})`],
  ['topk(5, x)', `topk(5, x{${TA}})`],
  ['bottomk(5, x)', `bottomk(5, x{${TA}})`],
  ['quantile(0.9, x)', `quantile(0.9, x{${TA}})`],
  ['count_values("v", x)', `count_values("v", x{${TA}})`],
  ['count_values("v", x) by (job)', `count_values("v", x{${TA}}) by (job)`],
  ['limitk(2, x)', `limitk(2, x{${TA}})`],
  ['limit_ratio(0.5, x)', `limit_ratio(0.5, x{${TA}})`],
  ['topk(scalar(sum(other)), up)', `topk(scalar(sum(other{${TA}})), up{${TA}})`],
  ['quantile(scalar(x), y)', `quantile(scalar(x{${TA}}), y{${TA}})`],
  // functions
  ['label_replace(up, "dst", "$1", "src", "(.*)")', `label_replace(up{${TA}}, "dst", "$1", "src", "(.*)")`],
  ['label_join(up, "dst", ",", "a", "b")', `label_join(up{${TA}}, "dst", ",", "a", "b")`],
  ['absent(nonexistent{job="x"})', `absent(nonexistent{job="x",${TA}})`],
  ['absent_over_time(x[5m])', `absent_over_time(x{${TA}}[5m])`],
  [
    'histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))',
    `histogram_quantile(0.9, sum by (le) (rate(x_bucket{${TA}}[5m])))`,
  ],
  ['clamp(x, 0, 1)', `clamp(x{${TA}}, 0, 1)`],
  ['predict_linear(x[1h], 3600)', `predict_linear(x{${TA}}[1h], 3600)`],
  ['double_exponential_smoothing(x[5m], 0.5, 0.5)', `double_exponential_smoothing(x{${TA}}[5m], 0.5, 0.5)`],
  ['sort_desc(timestamp(x))', `sort_desc(timestamp(x{${TA}}))`],
  ['info(up, {k="v"})', `info(up{${TA}}, {k="v",${TA}})`],
  ['vector(1)', 'vector(1)'],
  ['time() - x', `time() - x{${TA}}`],
  // literals stay as they are
  ['1', '1'],
  ['-1.5e3', '-1.5e3'],
  ['0x1F', '0x1F'],
  ['Inf', 'Inf'],
  ['NaN', 'NaN'],
  ['5m', '5m'],
  ['"str"', '"str"'],
  [`'x'`, `'x'`],
  ['`raw`', '`raw`'],
  ['1 + 2 * 3', '1 + 2 * 3'],
  // comments and layout
  ['up # hello', `up{${TA}} # hello`],
  ['# c\nup', `# c\nup{${TA}}`],
  ['up{a="b" # c\n}', `up{a="b",${TA} # c\n}`],
  ['up # c } {\n+ x', `up{${TA}} # c } {\n+ x{${TA}}`],
  ['sum(\n  rate(x[5m])\n)\n', `sum(\n  rate(x{${TA}}[5m])\n)\n`],
  ['up # windows line end\r\n+ x', `up{${TA}} # windows line end\r\n+ x{${TA}}`],
  // the user's own matchers are kept and ANDed
  ['up{namespace="other"}', `up{namespace="other",${TA}}`],
  ['up{namespace!="a"}', `up{namespace!="a",${TA}}`],
  ['up{namespace=~".*"}', `up{namespace=~".*",${TA}}`],
  // tenant shapes and escaping
  ['up', 'up{namespace=~"a|b"}', 'multi'],
  ['up', 'up{namespace=~"tenant\\\\.d|tenant\\\\.e"}', 'dotted'],
  ['up', 'up{namespace="tenant.d"}', 'dot1'],
  ['rate(x{a="b"}[5m])', 'rate(x{a="b",namespace=~"team-.+"}[5m])', 'regex'],
  ['a + b{c="d"}', 'a{cluster="c1",namespace="a"} + b{c="d",cluster="c1",namespace="a"}', 'twoLabels'],
  ['{"foo.bar"}', '{"foo.bar","k8s.namespace"="a"}', 'quotedName'],
  ['up', 'up{namespace="a\\"b"}', 'quote'],
  ['up', 'up{namespace="back\\\\slash"}', 'backslash'],
  ['up', 'up{namespace=~"x\\\\|y|z"}', 'pipe'],
  ['up', 'up{namespace="line\\nbreak"}', 'newline'],
];

describe('enforceQuery: rewrite table', () => {
  it('has at least 90 cases', () => assert.ok(CASES.length >= 90, String(CASES.length)));
  for (const [input, want, t = 'A'] of CASES) {
    it(`${JSON.stringify(input)} [${t}]`, () => assert.equal(enforceQuery(input, TENANTS[t]!), want));
  }
});

function code(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof GatewayError, `not a GatewayError: ${String(e)}`);
    return e.code;
  }
  assert.fail('did not throw');
}

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('did not throw');
}

describe('escaping in the rendered tenant matchers', () => {
  // Read the rendered regex back out of the PromQL string literal and run it anchored, as Prometheus does.
  const renderedRegex = (out: string): RegExp => {
    const lit = /=~("(?:[^"\\]|\\.)*")/.exec(out)![1]!;
    return new RegExp(`^(?:${decodePromString(lit, 0, lit.length)!})$`, 's');
  };
  it('tenant.d matches only itself, not tenantxd', () => {
    const re = renderedRegex(enforceQuery('up', TENANTS.dotted!));
    assert.ok(re.test('tenant.d') && re.test('tenant.e'));
    assert.ok(!re.test('tenantxd') && !re.test('tenant.dx'));
  });
  it('a value holding | is one literal alternative', () => {
    const re = renderedRegex(enforceQuery('up', TENANTS.pipe!));
    assert.ok(re.test('x|y') && re.test('z'));
    assert.ok(!re.test('x') && !re.test('y'));
  });
});

describe('errorOnConflict', () => {
  const strict: EnforceOptions = { errorOnConflict: true };
  const refused: [string, RestrictedTenant][] = [
    ['up{namespace="other"}', A],
    ['up{namespace!="a"}', A],
    ['up{namespace=~"b.*"}', A],
    ['up{namespace!~"a"}', A],
    ['up{"namespace"="b"}', A],
    ['sum(rate(x{namespace="b"}[5m]))', A],
    ['a + b{namespace="b"}', A],
    ['up{namespace="c"}', TENANTS.multi!],
    ['up{namespace!="a", namespace!="b"}', TENANTS.multi!],
    ['up{namespace="other"}', TENANTS.regex!],
    ['up{namespace=~"b"}', tenant(values('namespace', 'abc'))], // anchored: "b" does not match "abc"
  ];
  for (const [q, t] of refused) {
    it(`refuses ${q}`, () =>
      assert.equal(
        code(() => enforceQuery(q, t, strict)),
        'PG_ENFORCE_CONFLICT',
      ));
  }
  const allowed: [string, RestrictedTenant][] = [
    ['up{namespace="a"}', A],
    ['up{namespace!="b"}', A],
    ['up{namespace=~"a|b"}', A],
    ['up{namespace!~"x"}', A],
    ['up{namespace=~"(?i)A"}', A], // RE2-only syntax: JS cannot compile it, so no claim is made
    ['up{job="x"}', A],
    ['up{namespace="a"}', TENANTS.multi!],
    ['up{namespace="team-x"}', TENANTS.regex!],
    ['up{namespace=~"other"}', TENANTS.regex!], // only = is decided for regex tenants
  ];
  for (const [q, t] of allowed) {
    it(`allows ${q}`, () => assert.match(enforceQuery(q, t, strict), /namespace/));
  }
  it('decides user regexes that would backtrack for ever in JS: RE2 matches in linear time', () => {
    // A backtracking engine spins for seconds on these against 40 a's; RE2 (as Prometheus) answers at once.
    const long = tenant(values('namespace', 'a'.repeat(40)));
    for (const re of ['(a*)*b', '(.*)*x', 'a*a*a*a*a*a*a*a*b', '.*b.*']) {
      assert.equal(
        code(() => enforceQuery(`up{namespace=~"${re}"}`, long, strict)),
        'PG_ENFORCE_CONFLICT',
        re,
      );
    }
    assert.match(enforceQuery('up{namespace=~"(a*)*"}', long, strict), /namespace/);
  });
  it('without the option the conflicting query is rewritten, keeping both matchers', () => {
    assert.equal(enforceQuery('up{namespace="other"}', A), `up{namespace="other",${TA}}`);
  });
});

describe('refusals', () => {
  const syntax = [
    'sum(rate(x[5m])',
    'foo}',
    'up{a="b"}{c="d"}',
    'rate(x[5m]',
    'foo{a=}',
    '1 +',
    'foo bar',
    'sum by (a (x)',
  ];
  for (const q of syntax) {
    it(`syntax error: ${q}`, () => {
      assert.equal(
        code(() => enforceQuery(q, A)),
        'PG_BAD_QUERY',
      );
      assert.match(
        message(() => enforceQuery(q, A)),
        /^parse error at char \d+: /,
      );
    });
  }
  it('names the position and the offending text', () => {
    assert.equal(
      message(() => enforceQuery('foo}', A)),
      'parse error at char 4: unexpected "}"',
    );
    assert.equal(
      message(() => enforceQuery('sum(x', A)),
      'parse error at char 6: unexpected end of input',
    );
    assert.equal(
      message(() => enforceQuery('"ü" }', A)),
      'parse error at char 5: unexpected "}"',
    );
  });
  const badStrings = [
    'foo{a="b',
    'foo{a="b\n}',
    'foo{a="\\q"}',
    'foo{a="\\x4"}',
    'foo{a="\\u12"}',
    'foo{a="\\ud800"}',
    'foo{a="\\400"}',
    'foo{a="\\xff"}',
    `foo{a='\\"'}`,
    'label_replace(x, "a", "b\\',
    'foo{a="\\\n"}',
    'label_replace(x, "\\q", "b", "c", "d")',
    'count_values("\\z", x)',
    '"abc\n"',
  ];
  for (const q of badStrings) {
    it(`invalid string literal: ${JSON.stringify(q)}`, () =>
      assert.equal(
        code(() => enforceQuery(q, A)),
        'PG_BAD_QUERY',
      ));
  }
  it('empty, blank and comment-only queries', () => {
    for (const q of ['', '   \n\t', '# only a comment'])
      assert.equal(
        code(() => enforceQuery(q, A)),
        'PG_BAD_QUERY',
      );
  });
  it('too long, counted in UTF-8 bytes, checked before parsing', () => {
    assert.equal(
      code(() => enforceQuery('x'.repeat(65537), A)),
      'PG_QUERY_TOO_LONG',
    );
    assert.equal(
      code(() => enforceQuery('ü'.repeat(6), A, { maxQueryLength: 10 })),
      'PG_QUERY_TOO_LONG',
    );
    assert.equal(
      code(() => enforceQuery('(((((((((((', A, { maxQueryLength: 10 })),
      'PG_QUERY_TOO_LONG',
    );
    assert.equal(enforceQuery('a'.repeat(10), A, { maxQueryLength: 10 }), `${'a'.repeat(10)}{${TA}}`);
  });
  it('caps how much the tenant text may grow a query', () => {
    const wide = tenant(values('namespace', ...Array.from({ length: 50 }, (_, i) => `namespace-number-${i}`)));
    assert.equal(
      code(() => enforceQuery(`sum(${'x,'.repeat(2000)}x)`, wide)),
      'PG_QUERY_TOO_LONG',
    );
  });
  it('junk fails fast (strict parsing, no error recovery)', () => {
    assert.equal(
      code(() => enforceQuery('}])'.repeat(20000), A)),
      'PG_BAD_QUERY',
    );
    // Error recovery would walk all 60,000 bytes of junk (tens of µs each) and return a tree; strict parsing
    // stops at the first bad token, so the parser reports position 0 instead of a tree.
    assert.equal(parsePromql('}])'.repeat(20000)), 0);
    assert.equal(parsePromql(`up ${'}])'.repeat(20000)}`), 3);
  });
  it('deep nesting and lone surrogates', () => {
    assert.equal(
      code(() => enforceQuery(`${'('.repeat(300)}x${')'.repeat(300)}`, A)),
      'PG_BAD_QUERY',
    );
    assert.equal(
      enforceQuery(`${'('.repeat(200)}x${')'.repeat(200)}`, A),
      `${'('.repeat(200)}x{${TA}}${')'.repeat(200)}`,
    );
    assert.equal(
      code(() => enforceQuery('up{a="\ud800"}', A)),
      'PG_BAD_QUERY',
    );
  });
  it('a carriage return inside a comment (Prometheus ends the comment there, lezer does not)', () => {
    // Without this, `or secret` would reach Prometheus as code with no tenant matcher.
    assert.equal(
      code(() => enforceQuery('up # x\r or secret', A)),
      'PG_BAD_QUERY',
    );
    assert.equal(
      code(() => enforceQuery('up{a="b" # x\r}\n}', A)),
      'PG_BAD_QUERY',
    );
    assert.equal(
      code(() => enforceMatch('up # x\r or secret', A)),
      'PG_BAD_MATCH',
    );
  });
  it('info() without its data-label selector (an implicit target_info read no matcher can reach)', () => {
    assert.equal(
      code(() => enforceQuery('info(up)', A)),
      'PG_BAD_QUERY',
    );
    assert.equal(
      code(() => enforceQuery('sum(info(rate(x[5m]) # c\n))', A)),
      'PG_BAD_QUERY',
    );
  });
  it('a tenant without constraints, or one matching series that lack the label, fails closed', () => {
    assert.equal(
      code(() => enforceQuery('up', tenant())),
      'PG_ENFORCE_VERIFY_FAILED',
    );
    assert.equal(
      code(() => enforceQuery('up', tenant(values('namespace')))),
      'PG_ENFORCE_VERIFY_FAILED',
    );
    assert.equal(
      code(() => enforceQuery('up', tenant(values('namespace', 'a', '')))),
      'PG_ENFORCE_VERIFY_FAILED',
    );
    assert.equal(
      code(() => enforceQuery('up', tenant(regex('namespace', 'team-.*|')))),
      'PG_ENFORCE_VERIFY_FAILED',
    );
    assert.equal(
      code(() => enforceMatch('up', tenant(regex('namespace', '.*')))),
      'PG_ENFORCE_VERIFY_FAILED',
    );
  });
  it('verification refuses a rewrite Prometheus could not read (lone surrogate in a tenant value)', () => {
    assert.equal(
      code(() => enforceQuery('up', tenant(values('namespace', '\ud800')))),
      'PG_ENFORCE_VERIFY_FAILED',
    );
  });
});

describe('enforceMatch', () => {
  const ok: [string, string][] = [
    ['up', `up{${TA}}`],
    ['{job="x"}', `{job="x",${TA}}`],
    ['{"foo.bar"}', `{"foo.bar",${TA}}`],
    ['up{a="b",}', `up{a="b",${TA},}`],
    ['up # c', `up{${TA}} # c`],
  ];
  for (const [s, want] of ok) it(`rewrites ${s}`, () => assert.equal(enforceMatch(s, A), want));
  const bad = [
    'rate(x[5m])',
    'x[5m]',
    'sum(x)',
    '1',
    'x + y',
    'x offset 5m',
    'x @ 1',
    '(x)',
    '"str"',
    '-x',
    'up{a="b"',
    'up}',
    '',
  ];
  for (const s of bad) {
    it(`refuses ${JSON.stringify(s)}`, () =>
      assert.equal(
        code(() => enforceMatch(s, A)),
        'PG_BAD_MATCH',
      ));
  }
  it('says what was wrong', () =>
    assert.match(
      message(() => enforceMatch('x[5m]', A)),
      /range selector/,
    ));
});

describe('decodePromString', () => {
  const table: [string, string | undefined][] = [
    ['"a"', 'a'],
    [`'a'`, 'a'],
    ['`a\\n`', 'a\\n'],
    ['""', ''],
    ['"\\a\\b\\f\\n\\r\\t\\v\\\\"', '\x07\b\f\n\r\t\v\\'],
    ['"\\""', '"'],
    [`'\\''`, "'"],
    ['"\\x41\\101\\u00e9\\U0001F600"', 'AAé😀'],
    ['"\\xc3\\xa9"', 'é'],
    ['"é😀"', 'é😀'],
    ['"', undefined],
    ['"a', undefined],
    ['"a\\"', undefined],
    [`"\\'"`, undefined],
    [`'\\"'`, undefined],
    ['"\\xc3"', undefined],
    ['"\\U00110000"', undefined],
    ['"\\uDC00"', undefined],
    ['"\\8"', undefined],
    ['"a\nb"', undefined],
    ['`a`b`', undefined],
    ['"\\"', undefined],
  ];
  for (const [lit, want] of table) {
    it(JSON.stringify(lit), () => assert.equal(decodePromString(lit, 0, lit.length), want));
  }
});

describe('createPromqlEnforcer', () => {
  it('returns the same rewrite from the cache', () => {
    const e = createPromqlEnforcer();
    const first = e.query('rate(x[5m])', A);
    assert.equal(e.query('rate(x[5m])', A), first);
    assert.equal(first, `rate(x{${TA}}[5m])`);
  });
  it('never serves one tenant the rewrite cached for another', () => {
    const e = createPromqlEnforcer();
    const b = tenant(values('namespace', 'b'));
    assert.equal(e.query('up', A), `up{${TA}}`);
    assert.equal(e.query('up', b), 'up{namespace="b"}');
    assert.equal(e.match('up', b), 'up{namespace="b"}');
    // Same id, different constraints: the key is the canonical selector, not the id.
    assert.equal(e.query('up', { ...b, id: A.id }), 'up{namespace="b"}');
  });
  it('caches refusals and keeps query and match apart', () => {
    const e = createPromqlEnforcer();
    let first: unknown;
    try {
      e.match('sum(x)', A);
    } catch (err) {
      first = err;
    }
    assert.ok(first instanceof GatewayError && first.code === 'PG_BAD_MATCH');
    assert.throws(
      () => e.match('sum(x)', A),
      (err) => err === first,
    );
    assert.equal(e.query('sum(x)', A), `sum(x{${TA}})`);
  });
  it('applies its options', () => {
    const e = createPromqlEnforcer({ errorOnConflict: true, maxQueryLength: 20, cacheSize: 2 });
    assert.equal(
      code(() => e.query('up{namespace="b"}', A)),
      'PG_ENFORCE_CONFLICT',
    );
    assert.equal(
      code(() => e.query('x'.repeat(21), A)),
      'PG_QUERY_TOO_LONG',
    );
  });
});

describe('refuseRawBackslash (victoriametrics routes)', () => {
  const vm = { refuseRawBackslash: true };
  // MetricsQL's scanString reads a backslash before a backtick as an escape; PromQL's raw strings have none.
  const refused = [
    'foo{a=`\\`}',
    'foo{a=~`\\d+`}',
    'label_replace(up, "a", `\\1`, "b", "(.*)")',
    'x{code=`\\`} or x{code=`} or {__name__=~".+"} #`}',
  ];
  for (const q of refused) {
    it(`refuses ${q}`, () => {
      assert.throws(
        () => enforceQuery(q, A, vm),
        (e: unknown) => e instanceof GatewayError && e.code === 'PG_BAD_QUERY' && /raw string/.test(e.message),
      );
      // The same query is fine for Prometheus, which reads it as the enforcer does.
      assert.doesNotThrow(() => enforceQuery(q, A));
    });
  }
  it('refuses it in match[] too', () => {
    assert.throws(() => enforceMatch('{a=~`\\w`}', A, vm), /raw string/);
  });
  it('keeps raw strings without a backslash, and backslashes in quoted strings', () => {
    assert.equal(enforceQuery('foo{a=~`x|y`}', A, vm), `foo{a=~\`x|y\`,${TA}}`);
    assert.equal(enforceQuery('foo{a=~"\\\\d+"}', A, vm), `foo{a=~"\\\\d+",${TA}}`);
  });
});
