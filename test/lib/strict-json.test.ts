// Unit tests of the strict JSON reader: same values as JSON.parse where both accept, refusals for every ambiguous text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseStrictJson,
  parseStrictJsonText,
  StrictJsonError,
  type StrictJsonProblem,
} from '../../src/lib/strict-json.js';

function refuses(input: string | Uint8Array, problem: StrictJsonProblem, key?: string): void {
  const run = (): unknown => (typeof input === 'string' ? parseStrictJsonText(input) : parseStrictJson(input));
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof StrictJsonError, `not a StrictJsonError: ${String(e)}`);
    assert.equal(e.problem, problem, `${JSON.stringify(typeof input === 'string' ? input : [...input])}: ${e.message}`);
    if (key !== undefined) assert.equal(e.key, key);
    return true;
  });
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const escapeAll = (s: string): string =>
  Array.from({ length: s.length }, (_, i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

describe('parseStrictJsonText: accepts RFC 8259 and reads it as JSON.parse does', () => {
  const texts = [
    '{}',
    '[]',
    '""',
    '0',
    '-0',
    '1.5e-3',
    '-12E+2',
    '1e400',
    'true',
    'false',
    'null',
    ' \t\r\n{ "a" : [ 1 , {"b":null} ] } \n',
    '"\\u006datchers"',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '"\\ud83d\\ude00"',
    '"😀 ſ K é"',
    '{"a":{"a":{"a":1}}}',
    '[{"a":1},{"a":2}]',
    '{"a":1,"b":{"a":2}}',
    '{"__proto__":{"x":1}}',
    '{"constructor":1,"toString":2}',
    '"\u2028\u2029"',
  ];
  for (const t of texts) it(JSON.stringify(t), () => assert.deepStrictEqual(parseStrictJsonText(t), JSON.parse(t)));

  it('a "__proto__" key is an own property, not the prototype', () => {
    const v = parseStrictJsonText('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.ok(Object.hasOwn(v, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('agrees with JSON.parse on random JSON (property)', () => {
    fc.assert(
      fc.property(fc.json(), (t) => {
        assert.deepStrictEqual(parseStrictJsonText(t), JSON.parse(t));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with JSON.parse on random strings, escaped every way JSON.stringify may (property)', () => {
    // Well-formed strings only: lone surrogates are refused on purpose (below).
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.equal(parseStrictJsonText(JSON.stringify(s)), s);
        // Every UTF-16 code unit as a \u escape: astral characters become an escaped surrogate pair.
        assert.equal(parseStrictJsonText(`"${escapeAll(s)}"`), s);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseStrictJsonText: duplicate keys, compared after unescaping', () => {
  const rows: [string, string, string][] = [
    ['same key twice', '{"a":1,"a":1}', 'a'],
    ['same key, different values', '{"matchers":[],"matchers":[1]}', 'matchers'],
    ['escaped spelling first', '{"\\u006datchers":1,"matchers":2}', 'matchers'],
    ['escaped spelling last', '{"matchers":1,"\\u006datchers":2}', 'matchers'],
    ['both escaped differently', '{"\\u0069d":1,"i\\u0064":2}', 'id'],
    ['escaped slash', '{"a/b":1,"a\\/b":2}', 'a/b'],
    ['surrogate pair escaped vs raw', '{"😀":1,"\\ud83d\\ude00":2}', '😀'],
    ['empty key twice', '{"":1,"":2}', ''],
    ['nested in an array', '[{"x":1},{"y":1,"y":2}]', 'y'],
    ['nested three deep', '{"a":{"b":{"c":1,"c":2}}}', 'c'],
    ['nested in a matcher', '{"matchers":[{"name":"a","value":"b","isRegex":false,"isRegex":true}]}', 'isRegex'],
    ['__proto__ twice', '{"__proto__":1,"__proto__":2}', '__proto__'],
  ];
  for (const [name, text, key] of rows) it(name, () => refuses(text, 'duplicate-key', key));

  it('distinct keys that fold together in Go are NOT duplicates here (the silence decoder refuses them)', () => {
    assert.deepStrictEqual(parseStrictJsonText('{"id":1,"ID":2,"ıd":3}'), { id: 1, ID: 2, ıd: 3 });
  });

  it('any object with a key repeated is refused (property)', () => {
    const keyed = fc.tuple(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 5 }), fc.nat(), fc.nat());
    fc.assert(
      fc.property(keyed, fc.boolean(), ([keys, i, j], escapeSecond) => {
        const dup = keys[i % keys.length]!;
        const spelled = escapeSecond ? `"${escapeAll(dup)}"` : JSON.stringify(dup);
        const members = keys.map((k) => `${JSON.stringify(k)}:0`);
        members.splice(j % (members.length + 1), 0, `${spelled}:1`);
        const text = `[{"wrap":{${members.join(',')}}}]`;
        refuses(text, 'duplicate-key', dup);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseStrictJsonText: syntax refused', () => {
  const bad = [
    '',
    ' ',
    '{',
    '}',
    '[1,]',
    '{"a":1,}',
    '{,}',
    '[,1]',
    '{"a"}',
    '{"a" 1}',
    '{a:1}',
    "{'a':1}",
    '01',
    '1.',
    '.5',
    '+1',
    '-',
    '1e',
    '1e+',
    '0x10',
    'NaN',
    'Infinity',
    'tru',
    'nul',
    'True',
    '"abc',
    '"\\x41"',
    '"\\u12"',
    '"\\u12G4"',
    '"\\U0041"',
    '"a\nb"',
    '"a\tb"',
    '"\u0000"',
    '{} {}',
    '{}x',
    '[]]',
    '{"a":1}}',
    '1 2',
    '/* c */ {}',
    '{} // c',
    '\u00a0{}',
    '{}\u00a0',
    '\u2028{}',
  ];
  for (const t of bad) it(JSON.stringify(t), () => refuses(t, 'syntax'));

  it('JSON.parse refuses them too (the list holds no accidental valid text)', () => {
    for (const t of bad) assert.throws(() => JSON.parse(t), SyntaxError, JSON.stringify(t));
  });
});

describe('parseStrictJsonText: Unicode refused', () => {
  const rows: [string, string][] = [
    ['lone high surrogate escape', '"\\ud800"'],
    ['lone low surrogate escape', '"\\udc00"'],
    ['high then a letter', '"\\ud800x"'],
    ['reversed pair', '"\\ude00\\ud83d"'],
    ['two highs', '"\\ud83d\\ud83d"'],
    ['lone surrogate in a key', '{"\\ud800":1}'],
    ['lone surrogate deep in a matcher value', '{"matchers":[{"value":"team-a\\udfff"}]}'],
    ['raw lone surrogate (text API)', '"\ud800"'],
  ];
  for (const [name, text] of rows) it(name, () => refuses(text, 'encoding'));
  it('JSON.parse would have accepted the escaped ones, which is why this reader exists', () => {
    assert.equal(JSON.parse('"\\ud800"'), '\ud800');
  });
});

describe('parseStrictJson (bytes)', () => {
  it('reads valid UTF-8, multi-byte characters included', () => {
    assert.deepStrictEqual(parseStrictJson(utf8('{"v":"ſ K 😀 \\u00e9"}')), { v: 'ſ K 😀 é' });
  });
  const bytes: [string, number[]][] = [
    ['a BOM', [0xef, 0xbb, 0xbf, 0x7b, 0x7d]],
    ['an invalid byte in a string', [0x22, 0x61, 0xff, 0x22]],
    ['a truncated sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['an overlong encoding of "/"', [0x22, 0xc0, 0xaf, 0x22]],
    ['a UTF-8-encoded surrogate (CESU)', [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ['a continuation byte alone', [0x22, 0x80, 0x22]],
    ['a code point above U+10FFFF', [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]],
    ['invalid UTF-8 in a key', [0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]],
  ];
  for (const [name, b] of bytes) it(`refuses ${name}`, () => refuses(Uint8Array.from(b), 'encoding'));
  it('a BOM in the text API is a syntax error (U+FEFF is not JSON whitespace)', () => refuses('\ufeff{}', 'syntax'));
});

describe('parseStrictJsonText: depth limit', () => {
  it('accepts nesting up to maxDepth and refuses one deeper', () => {
    const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    assert.doesNotThrow(() => parseStrictJsonText(nest(64)));
    refuses(nest(65), 'depth');
    refuses('{"a":'.repeat(65) + '1' + '}'.repeat(65), 'depth');
    assert.throws(() => parseStrictJsonText(nest(4), { maxDepth: 3 }), StrictJsonError);
  });
  it('a deep hostile body fails fast instead of overflowing the stack', () => refuses('['.repeat(200_000), 'depth'));
});
