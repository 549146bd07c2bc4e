// Spoofed X-Forwarded-Uri/-Method/-Host/-Proto and X-Auth-Request-Redirect: honoured only from trusted proxies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, stopAll } from '../signin/endpoint-fixture.js';

const SKIP = ['GET=^/public/', '^/health$'];
let trusted: string;
let untrusted: string;
before(async () => {
  trusted = await start({ skipAuthRoutes: SKIP, whitelistDomains: ['.example.com'] }, ['127.0.0.1/32']);
  // This gateway trusts only 10.0.0.0/8; the test client connects from 127.0.0.1, like an attacker reaching it directly.
  untrusted = await start({ skipAuthRoutes: SKIP, whitelistDomains: ['.example.com'] }, ['10.0.0.0/8']);
});
after(stopAll);

/** What a Traefik forwardAuth (or nginx) would send for the original request. */
const forwarded = (uri: string, extra: Record<string, string> = {}) => ({
  'x-forwarded-uri': uri,
  'x-forwarded-method': 'GET',
  'x-forwarded-host': 'app.example.com',
  'x-forwarded-proto': 'https',
  ...extra,
});

const SPOOFS: readonly [string, Record<string, string>][] = [
  ['a public path', forwarded('/public/app.js')],
  ['an exact skip path', forwarded('/health')],
  ['a public path, method spelled in lower case', forwarded('/public/app.js', { 'x-forwarded-method': 'get' })],
  ['a public path with a query', forwarded('/public/app.js?v=1')],
  ['a public path given twice', { ...forwarded('/public/app.js'), 'x-forwarded-uri': '/public/app.js, /public/b.js' }],
];

for (const [what, headers] of SPOOFS) {
  test(`untrusted address: ${what} in X-Forwarded-Uri does not skip authentication`, async () => {
    const r = await fetch(`${untrusted}/oauth2/auth`, { headers });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-auth-request-user'), null);
  });
}

test('the same headers from a trusted proxy do skip authentication (the control)', async () => {
  assert.equal((await fetch(`${trusted}/oauth2/auth`, { headers: forwarded('/public/app.js') })).status, 202);
  assert.equal((await fetch(`${trusted}/oauth2/auth`, { headers: forwarded('/health') })).status, 202);
  assert.equal((await fetch(`${trusted}/oauth2/auth`, { headers: forwarded('/private') })).status, 401);
});

test('untrusted address: X-Auth-Request-Redirect and X-Forwarded-Host cannot choose where sign-in lands', async () => {
  const headers = {
    'x-auth-request-redirect': 'https://app.example.com/after',
    'x-forwarded-host': 'app.example.com',
    'x-forwarded-proto': 'https',
  };
  // The sign_in page shows the start link with the rd the gateway chose.
  const page = async (base: string) => (await fetch(`${base}/oauth2/sign_in`, { headers })).text();
  assert.match(
    await page(untrusted),
    /href="\/oauth2\/start\?rd=%2F"/,
    'an untrusted X-Auth-Request-Redirect is ignored',
  );
  assert.match(
    await page(trusted),
    /href="\/oauth2\/start\?rd=https%3A%2F%2Fapp\.example\.com%2Fafter"/,
    'a trusted one is used',
  );
});
