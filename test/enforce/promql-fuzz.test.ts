// Property tests for the PromQL enforcer, checked by a walker written independently of the module's verifier.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import fc from 'fast-check';
import { GatewayError } from '../../src/errors.js';
import { enforceQuery } from '../../src/enforce/promql/index.js';
import { formatMatcher, tenantMatchers } from '../../src/tenancy/tenant.js';
import type { LabelConstraint, Matcher, RestrictedTenant } from '../../src/tenancy/tenant.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`fast-check seed ${seed} (rerun with FC_SEED=${seed})`);
const RUNS = Number(process.env.FC_RUNS ?? 1500);
const params = { seed, numRuns: RUNS };

// ---- an independent checker: SyntaxNode API, JSON.parse for strings, operators compared as text ----

function unquote(lit: string): string | undefined {
  try {
    if (lit.startsWith('"')) return JSON.parse(lit) as string;
    if (lit.startsWith('`')) return lit.slice(1, -1);
    if (lit.startsWith("'")) return lit.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  } catch {
    // a Go escape JSON does not know: the value stays unknown
  }
  return undefined;
}

function matchersOf(sel: SyntaxNode, text: string): Matcher[] {
  const out: Matcher[] = [];
  const slice = (n: SyntaxNode | null): string => (n === null ? '' : text.slice(n.from, n.to));
  const ident = sel.getChild('Identifier');
  if (ident) out.push({ name: '__name__', op: '=', value: slice(ident) });
  for (const m of sel.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
    out.push({
      name: slice(m.getChild('LabelName')),
      op: slice(m.getChild('MatchOp')) as Matcher['op'],
      value: unquote(slice(m.getChild('StringLiteral'))) ?? '\0?',
    });
  }
  for (const m of sel.getChild('LabelMatchers')?.getChildren('QuotedLabelMatcher') ?? []) {
    const name = unquote(slice(m.getChild('QuotedLabelName')));
    out.push({
      name: name ?? '\0?',
      op: slice(m.getChild('MatchOp')) as Matcher['op'],
      value: unquote(slice(m.getChild('StringLiteral'))) ?? '\0?',
    });
  }
  return out;
}

/**
 * Blank out comments the way Prometheus's lexer reads them (they end at "\r" or "\n"),
 * skipping string literals. If lezer saw a longer comment, code hidden from the enforcer
 * reappears here and the selector check below catches it.
 */
function prometheusVisibleCode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== ch && (ch === '`' || text[j] !== '\n'))
        j += ch !== '`' && text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (ch === '#') {
      let j = i;
      while (j < text.length && text[j] !== '\n' && text[j] !== '\r') j++;
      out += ' '.repeat(j - i);
      i = j - 1;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Problems with `text` as enforced output, and how many selectors it holds. */
function inspect(text: string, want: readonly Matcher[]): { problems: string[]; selectors: number } {
  const problems: string[] = [];
  let selectors = 0;
  parser.parse(text).iterate({
    enter(n) {
      if (n.type.isError) problems.push(`error node at ${n.from}`);
      if (n.name !== 'VectorSelector') return true;
      selectors++;
      const have = matchersOf(n.node, text);
      for (const w of want) {
        if (!have.some((h) => h.name === w.name && h.op === w.op && h.value === w.value)) {
          problems.push(`${text.slice(n.from, n.to)} lacks ${formatMatcher(w)}`);
        }
      }
      return false;
    },
  });
  const visible = prometheusVisibleCode(text);
  if (visible !== text && want.length > 0)
    problems.push(...inspect(visible, want).problems.map((p) => `as Prometheus reads it: ${p}`));
  return { problems, selectors };
}

// ---- generators ----

const value = fc.string({ unit: 'binary', maxLength: 8 });
const quoteDouble = (s: string): string => JSON.stringify(s);
const quoteSingle = (s: string): string => `'${s.replace(/[\\'\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}'`;
const str = fc.oneof(
  value.map(quoteDouble),
  value.map(quoteSingle),
  value.filter((s) => !s.includes('`')).map((s) => `\`${s}\``),
);
const ws = fc.constantFrom('', ' ', '\n', ' # note } {\n', ' # crlf\r\n');
const metric = fc.constantFrom('up', 'foo', 'x_1', 'http_requests_total', 'a:b:c', 'node_cpu_seconds_total');
const labelName = fc.constantFrom('job', 'instance', 'le', 'a_b', '"foo.bar"', "'x.y'");
const op = fc.constantFrom('=', '!=', '=~', '!~');
const matcher = fc.tuple(labelName, ws, op, ws, str).map((p) => p.join(''));

function selector(allowEmpty: boolean): fc.Arbitrary<string> {
  const list = fc
    .tuple(fc.array(matcher, { minLength: allowEmpty ? 0 : 1, maxLength: 3 }), fc.boolean(), ws)
    .map(([ms, trailing, w]) => `{${w}${ms.join(', ')}${trailing && ms.length > 0 ? ',' : ''}}`);
  return fc.oneof(
    metric,
    fc.tuple(metric, list).map(([m, l]) => m + l),
    list.filter((l) => l !== '{}' || allowEmpty),
    fc.tuple(value, fc.array(matcher, { maxLength: 2 })).map(([n, ms]) => `{${[quoteDouble(n), ...ms].join(', ')}}`),
  );
}

function expression(allowEmpty: boolean): fc.Arbitrary<string> {
  const sel = selector(allowEmpty);
  const range = fc.constantFrom('5m', '1h', '30s');
  const binop = fc.constantFrom(
    '+',
    '-',
    '*',
    '/',
    '%',
    '^',
    '==',
    '!=',
    '>',
    '<',
    '>=',
    '<=',
    'and',
    'or',
    'unless',
    'atan2',
  );
  const modifier = fc.constantFrom(
    '',
    'on(job)',
    'ignoring(le)',
    'on(job) group_left(x)',
    'ignoring() group_right()',
    'bool',
  );
  const { expr } = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      sel,
      fc.tuple(sel, range).map(([s, r]) => `rate(${s}[${r}])`),
      fc.tuple(sel, range).map(([s, r]) => `${s}[${r}] @ start() offset ${r}`),
      fc.tuple(sel, range).map(([s, r]) => `${s} offset -${r}`),
      fc.constantFrom('1', '-2.5', '0x1f', 'Inf', '"s"', 'vector(1)', 'time()'),
      tie('expr').map((e) => `(${e})`),
      tie('expr').map((e) => `-${e}`),
      fc.tuple(tie('expr'), range).map(([e, r]) => `max_over_time((${e})[${r}:1m])`),
      tie('expr').map((e) => `sum by (job) (${e})`),
      fc.tuple(tie('expr'), tie('expr')).map(([p, e]) => `topk(scalar(${p}), ${e})`),
      tie('expr').map((e) => `count_values("v", ${e}) without (le)`),
      tie('expr').map((e) => `label_replace(${e}, "d", "$1", "s", "(.*)")`),
      tie('expr').map((e) => `histogram_quantile(0.9, ${e})`),
      tie('expr').map((e) => `absent(${e})`),
      fc.tuple(tie('expr'), binop, modifier, ws, tie('expr')).map(([a, o, m, w, b]) => `${a} ${o} ${m}${w} ${b}`),
    ),
  }));
  return expr;
}

const tenantArb: fc.Arbitrary<RestrictedTenant> = fc
  .uniqueArray(
    fc.oneof(
      fc.record({
        label: fc.constantFrom('namespace', 'k8s.ns', 'tenant'),
        kind: fc.constant('values' as const),
        values: fc.uniqueArray(
          value.filter((v) => v !== ''),
          { minLength: 1, maxLength: 3 },
        ),
      }),
      fc.record({
        label: fc.constantFrom('namespace', 'k8s.ns', 'tenant'),
        kind: fc.constant('regex' as const),
        pattern: fc.constantFrom('team-.+', 'a|b', '[0-9]+'),
      }),
    ),
    { minLength: 1, maxLength: 2, selector: (c: LabelConstraint) => c.label },
  )
  .map((cs) => ({
    unrestricted: false as const,
    id: 'fuzz',
    constraints: [...cs].sort((a, b) => (a.label < b.label ? -1 : 1)),
  }));

function attempt(q: string, t: RestrictedTenant): string | GatewayError {
  try {
    return enforceQuery(q, t);
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
}

// ---- properties ----

describe('PromQL enforcer properties', () => {
  it('(a) random and mutated input only ever yields GatewayError, and any output is enforced', () => {
    const alphabet = fc.constantFrom(
      ...'ab_:{}()[]"\'`,=~!<>+-*/^%@# \n\r\\059.'.split(''),
      'sum',
      'by',
      'offset',
      'rate',
      'on',
    );
    const junk = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.array(alphabet, { maxLength: 40 }).map((a) => a.join('')),
    );
    const mutated = fc.tuple(expression(true), fc.nat(), fc.nat(3), junk).map(([q, at, kind, s]) => {
      const i = at % (q.length + 1);
      if (kind === 0) return q.slice(0, i) + q.slice(i + 1 + (at % 4));
      if (kind === 1) return q.slice(0, i) + s + q.slice(i);
      if (kind === 2) return q.slice(0, i) + q.slice(i / 2, i) + q.slice(i);
      return q.slice(0, i) + s.slice(0, 1) + q.slice(i + 1);
    });
    fc.assert(
      fc.property(fc.oneof(junk, mutated), tenantArb, (q, t) => {
        const r = attempt(q, t);
        if (r instanceof GatewayError) return;
        assert.deepEqual(inspect(r, tenantMatchers(t)).problems, []);
      }),
      { ...params, numRuns: RUNS * 3 },
    );
  });

  it('(b) valid PromQL is rewritten into output where every selector carries every tenant matcher', () => {
    fc.assert(
      fc.property(expression(true), tenantArb, (q, t) => {
        const before = inspect(q, []);
        assert.deepEqual(before.problems, [], `generator made an unparsable query: ${q}`);
        const out = attempt(q, t);
        assert.equal(typeof out, 'string', `refused a valid query ${q}: ${String(out)}`);
        const after = inspect(out as string, tenantMatchers(t));
        assert.deepEqual(after.problems, []);
        assert.equal(after.selectors, before.selectors);
      }),
      params,
    );
  });

  it('(c) removing the tenant text from the output gives back the input', () => {
    fc.assert(
      fc.property(expression(false), tenantArb, (q, t) => {
        const text = tenantMatchers(t).map(formatMatcher).join(',');
        fc.pre(!q.includes(text));
        const out = enforceQuery(q, t);
        assert.equal(out.split(`{${text}}`).join('').split(`,${text}`).join(''), q);
      }),
      params,
    );
  });
});
