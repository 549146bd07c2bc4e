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

test('rule syntax: METHOD=, METHOD!=, !=, bare regex, "=" inside a regex', () => {
  assert.deepEqual(parseSkipRule('GET=^/x'), { method: 'GET', negate: false, path: /^\/x/ });
  assert.deepEqual(parseSkipRule('post!=^/x'), { method: 'POST', negate: true, path: /^\/x/ });
  assert.deepEqual(parseSkipRule('!=^/x'), { method: undefined, negate: true, path: /^\/x/ });
  assert.equal(parseSkipRule('^/a=b$').path.source, '^\\/a=b$');
  assert.throws(() => parseSkipRule('GET=(unclosed'), /not a valid regex/);
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
  for (const raw of ['/public', '/public/', '/public/x.css', '/public?next=/private', '/public#/private', '/public/a%20b']) {
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
