// Prevents skip-auth bypasses through paths two programs read differently: commas in X-Forwarded-Uri, "..;" and its encodings, ";params".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import { createSkipAuthMatcher, skipAuthPath } from '../../src/signin/skip-auth.js';
import { chooseRedirect, skipTarget } from '../../src/signin/request-info.js';
import { createRedirectValidator } from '../../src/signin/redirect.js';
import { parseTarget, wireBelow } from '../../src/lib/path.js';
import { createProxyTrust } from '../../src/lib/trusted-proxies.js';
import { GatewayError } from '../../src/errors.js';
import { start, stopAll } from '../signin/endpoint-fixture.js';

const PUBLIC = ['^/public/'];
const skip = createSkipAuthMatcher(PUBLIC);

/** What /oauth2/auth decides for this X-Forwarded-Uri from a trusted proxy: true = 202 without a session. */
function forwardSkips(uri: string, m = skip): boolean {
  const p = skipAuthPath(uri);
  return p !== null && m('GET', p);
}

/** The data path's answer: the decoded path and the wire form, or the refusal code. */
function dataPath(raw: string): { path: string; wire: string } | string {
  try {
    const t = parseTarget(raw);
    return { path: t.path, wire: t.wire ?? t.path };
  } catch (e) {
    return e instanceof GatewayError ? e.code : String(e);
  }
}

/**
 * [input, why it is an attack]. Each must be refused by forward auth (no skip: authentication required) and
 * by the data path (400 PG_BAD_REQUEST, nothing forwarded). nginx resolves "/public/x,/../../admin" to
 * "/admin"; Tomcat, Jetty and Spring read "..;" (after decoding: "..%3B", "%2e%2e;") as "..".
 */
const ATTACKS: readonly [string, string][] = [
  ['/public/x,/../../admin', 'the finding: cut at the comma it read /public/x, nginx serves /admin'],
  ['/public/..;/admin', 'servlet containers drop ";" and resolve ".."'],
  ['/public/..;x=1/admin', 'the same with a parameter'],
  ['/public/..%3B/admin', 'an encoded ";" promgate used to decode into a raw one'],
  ['/public/..%3b/admin', 'lower-case escape'],
  ['/public/%2e%2e;/admin', 'encoded dots, raw ";"'],
  ['/public/%2E%2E%3B/admin', 'everything encoded'],
  ['/public/.%2E;jsessionid=1/../admin', 'mixed encoding with a session parameter'],
  ['/public/.;/../admin', '"." with a parameter'],
  ['/public/;x/../admin', 'an empty name: Tomcat collapses "//" first, then ".." climbs out of /public'],
  ['/public//../admin', 'an empty segment'],
  ['/public/%2F..%2Fadmin', 'encoded slashes'],
  ['/public/..%5Cadmin', 'encoded backslash'],
  ['/public/..%00/admin', 'encoded NUL'],
];

for (const [raw, why] of ATTACKS) {
  test(`refused: ${raw} (${why})`, () => {
    assert.equal(forwardSkips(raw), false, 'forward auth must not skip authentication');
    assert.equal(dataPath(raw), 'PG_BAD_REQUEST', 'the data path must refuse it');
  });
}

test('a comma anywhere in X-Forwarded-Uri is ambiguous (two header lines joined?): no skip', () => {
  for (const raw of ['/public/a,b', '/public/x?v=1,2', '/public/x, /admin', '/public/x?,/admin']) {
    assert.equal(skipAuthPath(raw), null, raw);
  }
  // In a request line a comma is just a character: the data path forwards it.
  assert.deepEqual(dataPath('/public/a,b'), { path: '/public/a,b', wire: '/public/a,b' });
});

test('";params": the rule must skip both the literal path (nginx, Go) and the servlet reading', () => {
  const js = createSkipAuthMatcher(['\\.js$']);
  assert.equal(forwardSkips('/static/app.js', js), true, 'control');
  assert.equal(forwardSkips('/admin;x.js', js), false, 'a servlet app serves /admin');
  assert.equal(forwardSkips('/admin%3Bx.js', js), false, 'an encoded ";" is read both ways too: fail closed');
  assert.equal(forwardSkips('/admin;.js/x', js), false);
});

/** Inputs that must keep working, with the decisions for ";" in a non-dot segment. */
test('control rows: public paths skip, ";" in a name is kept, "%3B" stays encoded when forwarded', () => {
  assert.equal(forwardSkips('/public/x'), true);
  assert.deepEqual(dataPath('/public/x'), { path: '/public/x', wire: '/public/x' });
  // A raw ";" in a name (matrix parameters, jsessionid): both readings are under /public/, so it skips.
  assert.equal(forwardSkips('/public/a;b'), true);
  assert.deepEqual(dataPath('/public/a;b'), { path: '/public/a;b', wire: '/public/a;b' }, 'a raw ";" stays raw');
  assert.equal(forwardSkips('/public/a%3Bb'), true);
  assert.deepEqual(
    dataPath('/public/a%3Bb'),
    { path: '/public/a;b', wire: '/public/a%3Bb' },
    '%3B is never turned into a raw ";"',
  );
  assert.deepEqual(dataPath('/public/a%3bb;c%3Bd'), { path: '/public/a;b;c;d', wire: '/public/a%3Bb;c%3Bd' });
  // Tomcat's URL rewriting of a directory: an empty name is fine as the last segment.
  assert.equal(forwardSkips('/public/;jsessionid=1'), true);
  assert.deepEqual(dataPath('/public/;jsessionid=1'), { path: '/public/;jsessionid=1', wire: '/public/;jsessionid=1' });
  // A ";" in the segment before a plain "..": both readings resolve to /public/admin.
  assert.equal(skipAuthPath('/public/x;/../admin'), '/public/admin');
  assert.equal(forwardSkips('/public/x;/../admin'), true);
  assert.equal(dataPath('/public/x;/../admin'), 'PG_BAD_REQUEST', 'the data path refuses every dot segment');
  // Plain dot segments are resolved for forward auth, as nginx, Go and Tomcat do; never above the root.
  assert.equal(skipAuthPath('/public/a/../b'), '/public/b');
  assert.equal(skipAuthPath('/public/..'), '/');
  assert.equal(skipAuthPath('/../public/x'), null);
});

test('wireBelow strips the route prefix from the wire form segment by segment', () => {
  assert.equal(wireBelow('/app/public/a%3Bb', '/app'), '/public/a%3Bb');
  assert.equal(wireBelow('/a/b/x;y', '/a/b'), '/x;y');
  assert.equal(wireBelow('/app', '/app'), '/');
  assert.equal(wireBelow('/app/', '/app'), '/');
  assert.equal(wireBelow('/x%3By', '/'), '/x%3By');
});

function fakeReq(headers: Record<string, string>, method = 'GET'): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: '10.0.0.1' });
  return { headers, socket, method } as unknown as IncomingMessage;
}

test('skipTarget: X-Forwarded-Uri and X-Original-Uri must agree, the method must be one token', () => {
  const trust = createProxyTrust(['10.0.0.0/8']);
  assert.deepEqual(skipTarget(fakeReq({ 'x-forwarded-uri': '/public/x' }), trust), {
    method: 'GET',
    path: '/public/x',
  });
  assert.deepEqual(
    skipTarget(
      fakeReq({ 'x-forwarded-uri': '/public/x', 'x-original-uri': '/public/x', 'x-forwarded-method': 'head' }),
      trust,
    ),
    { method: 'HEAD', path: '/public/x' },
  );
  assert.equal(skipTarget(fakeReq({ 'x-forwarded-uri': '/public/x', 'x-original-uri': '/admin' }), trust), null);
  assert.equal(skipTarget(fakeReq({ 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'GET, POST' }), trust), null);
  assert.equal(skipTarget(fakeReq({ 'x-forwarded-uri': '/public/x,/../../admin' }), trust), null);
  assert.equal(skipTarget(fakeReq({}), trust), null, 'no URI: nothing to skip');
  assert.equal(skipTarget(fakeReq({ 'x-forwarded-uri': '/public/x' }), createProxyTrust([])), null, 'untrusted peer');
});

test('after sign-in, a forwarded URI with a comma is one URI and goes through the redirect validator whole', () => {
  const choice = {
    validate: createRedirectValidator(['.example.com']),
    trust: createProxyTrust(['10.0.0.0/8']),
    proxyPrefix: '/oauth2',
  };
  const url = new URL('http://auth.example.com/oauth2/start');
  const rd = (uri: string) =>
    chooseRedirect(fakeReq({ host: 'auth.example.com', 'x-forwarded-uri': uri }), url, choice);
  assert.equal(rd('/d/x?var=a,b'), '/d/x?var=a,b', 'no longer cut at the comma');
  assert.equal(rd('/app/x,/../..//evil.com'), '/', 'the whole value is validated: a slash trick anywhere refuses it');
  assert.equal(rd('//evil.com,/x'), '/');
});

after(stopAll);

/** GET /oauth2/auth with headers exactly as given (an array value is sent as repeated header lines). */
function auth(base: string, headers: OutgoingHttpHeaders): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/oauth2/auth`, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

test('/oauth2/auth: the comma and "..;" cases get 401, repeated X-Forwarded-Uri lines too; the control gets 202', async () => {
  const gw = await start({ skipAuthRoutes: PUBLIC }, ['127.0.0.1/32']);
  const h = (uri: string | string[]) => ({
    'x-forwarded-uri': uri,
    'x-forwarded-method': 'GET',
    'x-forwarded-host': 'app.example.com',
  });
  assert.equal(await auth(gw, h('/public/x')), 202, 'control');
  assert.equal(await auth(gw, h('/public/a%3Bb')), 202, 'control: an encoded ";" in a name');
  for (const [raw] of ATTACKS) assert.equal(await auth(gw, h(raw)), 401, raw);
  assert.equal(await auth(gw, h(['/public/x', '/admin'])), 401, 'two header lines, which Node joins with ", "');
  assert.equal(
    await auth(gw, { ...h('/public/x'), 'x-original-uri': '/admin' }),
    401,
    'two headers naming two requests',
  );
});
