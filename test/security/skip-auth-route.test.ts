// Prevents skip-auth-route bypasses: the query, the fragment, %23/%3F and dot segments never make a private path public.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSkipAuthMatcher, parseSkipRule, skipAuthPath } from '../../src/signin/skip-auth.js';

const skip = createSkipAuthMatcher(['^/public', 'GET=^/metrics$', 'POST!=^/admin', '!=^/(private|admin)', '^/a=b$']);
const anchoredOnly = createSkipAuthMatcher(['^/public(/|$)']);

/** The decoded path the pipeline or /oauth2/auth would match, from a raw target. */
function allowed(m: typeof skip, method: string, raw: string): boolean {
  const p = skipAuthPath(raw);
  return p !== null && m(method, p);
}

const shape = (r: ReturnType<typeof parseSkipRule>) => ({ method: r.method, negate: r.negate, pattern: r.pattern });

test('rule syntax: METHOD=, METHOD!=, !=, bare regex, "=" inside a regex', () => {
  assert.deepEqual(shape(parseSkipRule('GET=^/x')), { method: 'GET', negate: false, pattern: '^/x' });
  assert.deepEqual(shape(parseSkipRule('post!=^/x')), { method: 'POST', negate: true, pattern: '^/x' });
  assert.deepEqual(shape(parseSkipRule('!=^/x')), { method: undefined, negate: true, pattern: '^/x' });
  assert.equal(parseSkipRule('^/a=b$').pattern, '^/a=b$');
  assert.equal(parseSkipRule('^/a=b$').test('/a=b'), true);
  assert.throws(
    () => parseSkipRule('GET=(unclosed'),
    /not a valid Go \(RE2\) regex: error parsing regexp: missing closing \)/,
  );
});

test('rules are Go regexes, as in oauth2-proxy: RE2 syntax, no JS-only syntax', () => {
  // Go accepts POSIX classes, \pL and (?i); it refuses lookahead and backreferences that JS accepts.
  assert.equal(createSkipAuthMatcher(['^/[[:alpha:]]+/\\pL+$'])('GET', '/docs/été'), true);
  assert.equal(createSkipAuthMatcher(['(?i)^/PUBLIC/'])('GET', '/public/x'), true);
  assert.throws(() => parseSkipRule('^/(?!admin)'), /invalid or unsupported Perl syntax/);
  assert.throws(() => parseSkipRule('^/(a)\\1'), /invalid escape sequence/);
  // JS reads `[^]` as "any character" and `[]` as "nothing"; Go refuses the first and reads `[]a]` as a class.
  assert.throws(() => parseSkipRule('^/[^]'), /missing closing \]/);
  assert.equal(createSkipAuthMatcher(['^/x[]a]$'])('GET', '/x]'), true);
  // Go's \s is ASCII whitespace only; JS's would match the no-break space.
  assert.equal(createSkipAuthMatcher(['^/a\\sb$'])('GET', '/a\u00a0b'), false);
  assert.equal(createSkipAuthMatcher(['^/a\\sb$'])('GET', '/a b'), true);
});

test('methods', () => {
  assert.equal(skip('GET', '/metrics'), true);
  const onlyGet = createSkipAuthMatcher(['GET=^/metrics$']);
  assert.equal(onlyGet('POST', '/metrics'), false);
  const notAdmin = createSkipAuthMatcher(['POST!=^/admin']);
  assert.equal(notAdmin('POST', '/x'), true);
  assert.equal(notAdmin('POST', '/admin/x'), false);
  assert.equal(notAdmin('GET', '/x'), false);
});

const TRICKS: [string, string][] = [
  ['GET', '/private?x=/public'],
  ['GET', '/private?/public'],
  ['GET', '/private#/public'],
  ['GET', '/private%23/public'],
  ['GET', '/private%3F/public'],
  ['GET', '/private%3f/public'],
  ['GET', '/public/../private'],
  ['GET', '/public/%2e%2e/private'],
  ['GET', '/public%2F..%2Fprivate'],
  ['GET', '/public/%252e%252e/private'],
  ['GET', '/public\\..\\private'],
  ['GET', '/public/..%5Cprivate'],
  ['GET', '/public%00'],
  ['GET', '//public'],
  ['GET', 'public'],
  ['GET', '/%E0%A4%A'],
];

test('query, fragment, encoded ?/#, dot segments and junk never reach a public rule', () => {
  for (const [m, raw] of TRICKS) assert.equal(allowed(anchoredOnly, m, raw), false, raw);
});

test('the public path itself, with any query or fragment, is public', () => {
  for (const raw of [
    '/public',
    '/public/',
    '/public/x.css',
    '/public?next=/private',
    '/public#/private',
    '/public/a%20b',
  ]) {
    assert.equal(allowed(anchoredOnly, 'GET', raw), true, raw);
  }
  assert.equal(skipAuthPath('/public/a%20b?x'), '/public/a b');
  assert.equal(skipAuthPath('/x/./y'), '/x/y', 'dot segments resolved before matching');
});

test('the pipeline path (already decoded) with ? or # in it never matches', () => {
  assert.equal(skip('GET', '/private#/public'), false);
  assert.equal(skip('GET', '/public?x'), false);
  assert.equal(skip('GET', '/public'), true);
});
