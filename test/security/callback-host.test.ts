// The sign-in callback URL (sent to the provider as redirect_uri) never takes its host from a header the client chose.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { request } from 'undici';
import { callbackUrl, type RedirectChoice } from '../../src/signin/request-info.js';
import { createRedirectValidator } from '../../src/signin/redirect.js';
import { createProxyTrust } from '../../src/lib/trusted-proxies.js';
import { GatewayError } from '../../src/errors.js';
import { start, stopAll } from '../signin/endpoint-fixture.js';

function req(remote: string, headers: Record<string, string>): IncomingMessage {
  return { headers, socket: { remoteAddress: remote } } as unknown as IncomingMessage;
}

const choice = (trusted: string[]): RedirectChoice => ({
  validate: createRedirectValidator(['.example.com']),
  trust: createProxyTrust(trusted),
  proxyPrefix: '/oauth2',
});

function cb(r: IncomingMessage, c: RedirectChoice, configured?: string): string {
  try {
    return callbackUrl(r, c, configured);
  } catch (e) {
    if (e instanceof GatewayError) return e.code;
    throw e;
  }
}

test('callback URL: Host headers a client may forge are refused; loopback, whitelisted and trusted-proxy hosts are used', () => {
  const direct = choice([]);
  const rows: [string, Record<string, string>, string][] = [
    ['an arbitrary host', { host: 'evil.example.net' }, 'PG_BAD_REQUEST'],
    ['a host with userinfo', { host: 'app.example.com@evil.net' }, 'PG_BAD_REQUEST'],
    ['a host with a path', { host: 'app.example.com/x' }, 'PG_BAD_REQUEST'],
    ['no host', {}, 'PG_BAD_REQUEST'],
    [
      'X-Forwarded-Host from an untrusted peer',
      { host: 'evil.example.net', 'x-forwarded-host': 'app.example.com' },
      'PG_BAD_REQUEST',
    ],
    ['loopback', { host: '127.0.0.1:4180' }, 'http://127.0.0.1:4180/oauth2/callback'],
    ['localhost', { host: 'localhost:4180' }, 'http://localhost:4180/oauth2/callback'],
    ['a whitelisted host', { host: 'app.example.com' }, 'http://app.example.com/oauth2/callback'],
  ];
  for (const [what, headers, want] of rows) assert.equal(cb(req('192.0.2.7', headers), direct), want, what);
  const viaProxy = choice(['192.0.2.0/24']);
  assert.equal(
    cb(
      req('192.0.2.7', { host: 'internal:4180', 'x-forwarded-host': 'portal.corp', 'x-forwarded-proto': 'https' }),
      viaProxy,
    ),
    'https://portal.corp/oauth2/callback',
  );
  assert.equal(
    cb(req('192.0.2.7', { host: 'internal', 'x-forwarded-host': 'portal.corp/evil' }), viaProxy),
    'PG_BAD_REQUEST',
  );
  // A configured absolute URL is used as it is; a relative one takes the trusted origin, or is refused.
  assert.equal(
    cb(req('192.0.2.7', { host: 'evil.example.net' }), direct, 'https://gw.example.com/oauth2/callback'),
    'https://gw.example.com/oauth2/callback',
  );
  assert.equal(cb(req('192.0.2.7', { host: 'evil.example.net' }), direct, '/oauth2/callback'), 'PG_BAD_REQUEST');
  assert.equal(cb(req('192.0.2.7', { host: 'app.example.com' }), direct, '/cb'), 'http://app.example.com/cb');
});

let gw: string;
before(async () => {
  gw = await start({ whitelistDomains: ['.example.com'] }, ['10.0.0.0/8']);
});
after(stopAll);

test('/oauth2/start with a forged Host header answers 400 and sends nobody to the provider', async () => {
  // fetch() may not set Host; undici's request() sends it as given, as a raw client would.
  const r = await request(`${gw}/oauth2/start`, { headers: { host: 'evil.example.net', accept: 'application/json' } });
  assert.equal(r.statusCode, 400);
  assert.equal(r.headers.location, undefined);
  assert.equal(((await r.body.json()) as { code: string }).code, 'PG_BAD_REQUEST');
  // The control: a loopback Host passes the check and the request goes on to the (here unreachable) provider.
  const ok = await request(`${gw}/oauth2/start`, { headers: { accept: 'application/json' } });
  assert.notEqual(ok.statusCode, 400);
  await ok.body.dump();
});
