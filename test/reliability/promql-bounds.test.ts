// Issue 15.6: client-supplied PromQL and regexes cost bounded work. The random-input properties (every input is a
// GatewayError or a rewrite that re-parses and verifies) are test/enforce/promql-fuzz.test.ts; this file bounds the
// work per input structurally instead of by a clock: lengths are refused before parsing, nesting never overflows
// the stack, and every regex a client supplies runs through re2js (linear time), never a backtracking JS RegExp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { GatewayError } from '../../src/errors.js';
import { createPromqlEnforcer, enforceQuery } from '../../src/enforce/promql/index.js';
import { wholeMatchAnyMode } from '../../src/lib/re2.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`fast-check seed ${seed} (rerun with FC_SEED=${seed})`);

const tenant = (value: string): RestrictedTenant => ({
  unrestricted: false,
  id: value,
  constraints: [{ label: 'namespace', kind: 'values', values: [value] }],
});

function outcome(f: () => string): string | GatewayError {
  try {
    return f();
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e; // anything else (RangeError, TypeError) is a defect
  }
}

test('a pattern that backtracks catastrophically in JS completes through re2js', { timeout: 30_000 }, () => {
  // /(a+)+$/ on "aaaa…b" takes exponential time in a backtracking engine (~2^n steps); n = 5000 would never end.
  const value = 'a'.repeat(5000) + 'b';
  assert.equal(wholeMatchAnyMode('(a+)+$', value), false);
  assert.equal(wholeMatchAnyMode('(a|aa)+', value.slice(0, -1)), true);
  // The same pattern from a client, checked against the tenant's value (errorOnConflict compares them).
  const strict = { errorOnConflict: true };
  const r = outcome(() => enforceQuery('up{namespace=~"(a+)+$"}', tenant('a'.repeat(100) + 'b'), strict));
  assert.ok(r instanceof GatewayError, 'the matcher excludes the tenant, and says so');
  assert.equal(r.code, 'PG_ENFORCE_CONFLICT');
});

test('queries over server.maxQueryLength are refused before any parsing', () => {
  const enf = createPromqlEnforcer({ maxQueryLength: 1024 });
  const t = tenant('team-a');
  const long = 'up' + ' + up'.repeat(300);
  const r = outcome(() => enf.query(long, t));
  assert.ok(r instanceof GatewayError);
  assert.equal(r.code, 'PG_QUERY_TOO_LONG');
  assert.equal(typeof enf.query('up + up', t), 'string', 'control: a short query is rewritten');
});

test('deep nesting (parentheses, unary minus, function calls) is a coded refusal or a rewrite, never a stack overflow', () => {
  const t = tenant('team-a');
  for (const depth of [100, 1000, 10_000, 30_000]) {
    for (const [open, close] of [
      ['(', ')'],
      ['-', ''],
      ['abs(', ')'],
      ['sum by (a) (', ')'],
    ] as const) {
      const q = open.repeat(depth) + 'up' + close.repeat(depth);
      const r = outcome(() => enforceQuery(q, t, { maxQueryLength: 1 << 20 }));
      if (typeof r === 'string') assert.match(r, /namespace="team-a"/);
    }
  }
});

test('random token soup of every length up to the limit: a GatewayError or a rewrite, nothing else', () => {
  const t = tenant('team-a');
  const enf = createPromqlEnforcer({ maxQueryLength: 4096 });
  const token = fc.constantFrom(
    '(',
    ')',
    '{',
    '}',
    '[5m]',
    'up',
    'sum',
    'by',
    '=~',
    '"',
    '.*',
    '+',
    'offset',
    '@',
    ',',
    ' ',
    '\\',
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 1000 }), fc.string({ unit: 'binary', maxLength: 64 }), (toks, bytes) => {
      const q = toks.join('') + bytes;
      const r = outcome(() => enf.query(q, t));
      if (typeof r === 'string') assert.match(r, /namespace="team-a"/);
    }),
    { seed, numRuns: 150 },
  );
});

/** Every RegExp built at run time in src/, by file; each is reviewed to take no client input. */
const REVIEWED: Record<string, string> = {
  // A tenant-rule glob from the config file, every metacharacter escaped; never sent to a backend.
  'src/tenancy/policy.ts': 'glob from config',
  // The session cookie's configured name, escaped, to find its chunks.
  'src/authn/session/chunk.ts': 'cookie name from config',
};

test('no RegExp is built from a string anywhere in src/ except the reviewed, config-only places', () => {
  const root = new URL('../../', import.meta.url).pathname;
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const text = readFileSync(p, 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '');
        if (/\bRegExp\s*\(/.test(text)) found.add(relative(root, p));
      }
    }
  };
  walk(join(root, 'src'));
  assert.deepEqual([...found].sort(), Object.keys(REVIEWED).sort());
});
