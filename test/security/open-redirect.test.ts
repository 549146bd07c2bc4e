// Prevents open redirects through rd, X-Auth-Request-Redirect and X-Forwarded-* after sign-in and sign-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { createRedirectValidator } from '../../src/signin/redirect.js';
import { chooseRedirect } from '../../src/signin/request-info.js';
import { createProxyTrust } from '../../src/lib/trusted-proxies.js';

const validate = createRedirectValidator(['.example.com', 'exact.org', 'ports.net:8443', 'anyport.io:*', '[::1]:9090']);

const REFUSED: string[] = [
  '//evil.com',
  '//evil.com/path',
  '/\\evil.com',
  '\\\\evil.com',
  '/ /evil.com',
  '/\t/evil.com',
  '/\n/evil.com',
  '/\r\n/evil.com',
  '/%09/evil.com',
  '/%0a/evil.com',
  '/%5Cevil.com',
  '/%5cevil.com',
  '/%2F/evil.com',
  '/%2f%2fevil.com',
  '%2F%2Fevil.com',
  '/%252F%252Fevil.com',
  '/%20/evil.com',
  '/./evil.com/..//x',
  '/../evil.com',
  '/a/..//evil.com',
  '/\u3000/evil.com',
  'https://evil.com',
  'http://evil.com/',
  'https://example.com.evil.com',
  'https://badexample.com',
  'https://evil.com/.example.com',
  'https://evil.com\\@app.example.com',
  'https://app.example.com@evil.com',
  'https://user:pw@app.example.com/',
  'https://app.example.com:8443/',
  'https://exact.org:444/',
  'https://sub.exact.org/',
  'https://ports.net/',
  'https://ports.net:8444/',
  'https://[::1]:9091/',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox',
  'ftp://app.example.com/',
  'evil.com',
  'https:evil.com',
  'https:/evil.com',
  ' https://app.example.com/',
  'https://app.example.com/\n',
  'https://app.example.com%0d%0aSet-Cookie:x=y/',
  'https://app.example.com%2F@evil.com/',
  'https://evil.com%2F.example.com/',
  'https://evil.com%252F.example.com/',
  'https://evil.com%5C.example.com/',
  '/ok\u0000',
  '',
];

const ALLOWED: [string, string][] = [
  ['/', '/'],
  ['/graph?g0.expr=up&g0.tab=0', '/graph?g0.expr=up&g0.tab=0'],
  ['/api/v1/query?query=sum(rate(x[5m]))', '/api/v1/query?query=sum(rate(x[5m]))'],
  ['/path with space', '/path%20with%20space'],
  ['/a#frag', '/a#frag'],
  ['/graph?g0.expr=a%20%25%202', '/graph?g0.expr=a%20%25%202'],
  ['/graph?g0.expr=100%', '/graph?g0.expr=100%'],
  ['/caf%C3%A9', '/caf%C3%A9'],
  ['https://app.example.com/graph?q=a%20b%2Fc', 'https://app.example.com/graph?q=a%20b%2Fc'],
  ['https://example.com/', 'https://example.com/'],
  ['https://app.example.com/grafana?x=1', 'https://app.example.com/grafana?x=1'],
  ['https://deep.sub.example.com/', 'https://deep.sub.example.com/'],
  ['https://app.example.com:443/', 'https://app.example.com/'],
  ['http://app.example.com/', 'http://app.example.com/'],
  ['https://exact.org/x', 'https://exact.org/x'],
  ['https://ports.net:8443/x', 'https://ports.net:8443/x'],
  ['https://anyport.io:1234/', 'https://anyport.io:1234/'],
  ['https://anyport.io/', 'https://anyport.io/'],
  ['https://APP.EXAMPLE.COM/', 'https://app.example.com/'],
  ['https://[::1]:9090/', 'https://[::1]:9090/'],
];

test('refused redirect targets', () => {
  for (const rd of REFUSED) assert.equal(validate(rd), null, JSON.stringify(rd));
});

test('allowed redirect targets, normalised', () => {
  for (const [rd, want] of ALLOWED) assert.equal(validate(rd), want, JSON.stringify(rd));
});

test('no whitelist: only relative paths', () => {
  const v = createRedirectValidator([]);
  assert.equal(v('/x'), '/x');
  assert.equal(v('https://example.com/'), null);
});

function fakeReq(remote: string, url: string, headers: Record<string, string>): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: remote });
  return {
    url,
    headers: { host: 'auth.example.com', ...headers },
    socket,
    method: 'GET',
  } as unknown as IncomingMessage;
}

test('X-Auth-Request-Redirect and X-Forwarded-* count only from trusted proxies', () => {
  const choice = { validate, trust: createProxyTrust(['10.0.0.0/8']), proxyPrefix: '/oauth2' };
  const url = new URL('http://auth.example.com/oauth2/start');
  const spoof = {
    'x-auth-request-redirect': 'https://app.example.com/from-header',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example.com',
    'x-forwarded-uri': '/from-fwd',
  };
  assert.equal(
    chooseRedirect(fakeReq('203.0.113.9', url.pathname, spoof), url, choice),
    '/',
    'untrusted peer: headers ignored',
  );
  assert.equal(
    chooseRedirect(fakeReq('10.1.2.3', url.pathname, spoof), url, choice),
    'https://app.example.com/from-header',
  );
  const { 'x-auth-request-redirect': _drop, ...fwd } = spoof;
  assert.equal(chooseRedirect(fakeReq('10.1.2.3', url.pathname, fwd), url, choice), 'https://app.example.com/from-fwd');
  const evil = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.com', 'x-forwarded-uri': '/x' };
  assert.equal(
    chooseRedirect(fakeReq('10.1.2.3', url.pathname, evil), url, choice),
    '/',
    'trusted but not whitelisted host',
  );
  const loop = { 'x-forwarded-host': 'auth.example.com', 'x-forwarded-uri': '/oauth2/sign_in' };
  assert.equal(
    chooseRedirect(fakeReq('10.1.2.3', url.pathname, loop), url, choice),
    '/',
    'never back into the sign-in endpoints',
  );
  const withRd = new URL('http://auth.example.com/oauth2/start?rd=%2F%2Fevil.com');
  assert.equal(
    chooseRedirect(fakeReq('10.1.2.3', withRd.pathname, spoof), withRd, choice),
    'https://app.example.com/from-header',
    'a bad rd is skipped, not used',
  );
});
