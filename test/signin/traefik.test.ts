// Traefik forwardAuth against promgate's /oauth2/auth (in-process): the X-Forwarded-* requests Traefik sends, from a trusted and an untrusted address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { freePort } from '../e2e/harness/ports.js';
import { startOidcProvider, TestBrowser, type OidcProviderFixture } from '../e2e/harness/oidc-provider.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';

const alice = { id: 'alice', password: 'alice-pw' };
/** The whole 127/8 is loopback on Linux: connecting from 127.0.0.2 makes an untrusted peer of the same host. */
const TRUSTED = '127.0.0.1';
const UNTRUSTED = '127.0.0.2';
const APP = 'app.example.test';

let idp: OidcProviderFixture;
let pg: InProcessGateway;
let cookie: string;

before(async () => {
  // The port is chosen first: the provider must know the callback URL before the gateway starts.
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/oauth2/callback`;
  idp = await startOidcProvider({ redirectUris: [callback] });
  const cfg = {
    server: { host: '127.0.0.1', port, trustedProxies: [`${TRUSTED}/32`], logLevel: 'warn' },
    auth: {
      oidc: {
        issuerUrl: idp.issuer,
        clientId: idp.clients.basic.clientId,
        clientSecret: idp.clients.basic.clientSecret,
        insecure: true,
        // Behind Traefik the browser's host is app.example.test; the provider knows this one callback only.
        redirectUrl: callback,
        scopes: ['openid', 'email', 'profile', 'groups'],
        setXAuthRequest: true,
        whitelistDomains: [APP],
        skipAuthRoutes: ['^/public/', 'GET=^/assets/'],
        cookie: { secret: randomBytes(32).toString('base64'), secure: false },
      },
    },
  };
  pg = await startInProcess({ port, config: cfg });
});

after(async () => {
  await pg?.close();
  await idp?.close();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET to promgate from a chosen local address, without connection reuse (so the source address holds). */
function get(path: string, headers: Record<string, string>, from = TRUSTED): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: pg.port, path, headers, localAddress: from, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** What Traefik's forwardAuth middleware sends for a browser request to https://app.example.test<uri>. */
function traefik(uri: string, opts: { method?: string; cookie?: string } = {}): Record<string, string> {
  const h: Record<string, string> = {
    'x-forwarded-method': opts.method ?? 'GET',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': APP,
    'x-forwarded-uri': uri,
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-port': '443',
    'x-real-ip': '203.0.113.7',
    accept: 'text/html,application/xhtml+xml',
  };
  if (opts.cookie) h.cookie = opts.cookie;
  return h;
}

test('a login started from Traefik headers comes back to the forwarded URL', async () => {
  // Traefik's errors middleware serves /oauth2/sign_in for a 401; the page's button starts the login with rd.
  const page = await get('/oauth2/sign_in', traefik('/dash?x=1'));
  assert.equal(page.status, 200);
  const href = /id="sign-in" href="([^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&');
  assert.equal(href, `/oauth2/start?rd=${encodeURIComponent(`https://${APP}/dash?x=1`)}`);

  // /oauth2/start without rd, reached through the proxy: the forwarded URL is where the login returns.
  const b = new TestBrowser(undefined, traefik('/dash?x=1'));
  const { res } = await b.login(`${pg.url}/oauth2/start`, alice);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), `https://${APP}/dash?x=1`);
  cookie = b.jar.header(pg.url);
  assert.match(cookie, /_oauth2_proxy=/);
});

test('forwardAuth from a trusted proxy: 202 with identity headers, 401 without a session, 403 on query limits', async () => {
  assert.ok(cookie, 'needs the login of the first test');
  const ok = await get('/oauth2/auth', traefik('/dash', { cookie }));
  assert.equal(ok.status, 202);
  assert.equal(ok.headers['x-auth-request-user'], 'alice');
  assert.equal(ok.headers['x-auth-request-email'], 'alice@example.com');
  assert.equal(ok.headers['x-auth-request-groups'], 'team-a,admins');
  assert.equal(ok.headers['x-auth-request-preferred-username'], 'alice');
  assert.equal(ok.headers['set-cookie'], undefined);

  const none = await get('/oauth2/auth', traefik('/dash'));
  assert.equal(none.status, 401);
  assert.equal(none.headers['x-auth-request-user'], undefined);

  assert.equal((await get('/oauth2/auth?allowed_groups=nope', traefik('/dash', { cookie }))).status, 403);
  assert.equal((await get('/oauth2/auth?allowed_groups=nope,admins', traefik('/dash', { cookie }))).status, 202);
  assert.equal((await get('/oauth2/auth?allowed_email_domains=other.org', traefik('/dash', { cookie }))).status, 403);
  // A session is a session from any peer; only the X-Forwarded-* headers depend on trust.
  assert.equal((await get('/oauth2/auth', traefik('/dash', { cookie }), UNTRUSTED)).status, 202);
});

test('skip-auth-route matches the decoded forwarded path only; the query and %23 never make a private path public', async () => {
  const cases: [string, string, number][] = [
    ['GET', '/public/logo.png', 202],
    ['GET', '/public/a%20b.css?v=1', 202],
    ['POST', '/public/form', 202],
    ['GET', '/assets/app.js', 202],
    ['POST', '/assets/app.js', 401],
    ['GET', '/private?x=/public/', 401],
    ['GET', '/private%23/public/', 401],
    ['GET', '/private#/public/', 401],
    ['GET', '/private%3F/public/', 401],
    ['GET', '/public/../private', 401],
    ['GET', '/public/%2e%2e/private', 401],
    ['GET', '/private', 401],
  ];
  for (const [method, uri, want] of cases) {
    const r = await get('/oauth2/auth', traefik(uri, { method }));
    assert.equal(r.status, want, `${method} ${uri}`);
    assert.equal(r.headers['x-auth-request-user'], undefined, `${method} ${uri}: no identity without a session`);
  }
});

test('the same headers from an untrusted address are ignored: no skip-auth, no rd from them', async () => {
  for (const uri of ['/public/logo.png', '/assets/app.js']) {
    assert.equal((await get('/oauth2/auth', traefik(uri))).status, 202, `${uri} from the trusted proxy`);
    assert.equal((await get('/oauth2/auth', traefik(uri), UNTRUSTED)).status, 401, `${uri} from an untrusted peer`);
  }
  const page = await get('/oauth2/sign_in', traefik('/dash?x=1'), UNTRUSTED);
  assert.equal(page.status, 200);
  const href = /id="sign-in" href="([^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&');
  assert.equal(href, `/oauth2/start?rd=${encodeURIComponent('/')}`, 'rd falls back to "/"');

  // A login started from an untrusted peer with the same headers comes back to "/", not to the forwarded URL.
  const b = new TestBrowser(undefined, traefik('/dash?x=1'));
  const start = await get('/oauth2/start', traefik('/dash?x=1'), UNTRUSTED);
  assert.equal(start.status, 302);
  b.jar.store(pg.url, ([] as string[]).concat(start.headers['set-cookie'] ?? []));
  const { callbackUrl } = await b.reachCallback(new URL(start.headers.location!, pg.url).href, alice);
  const cb = await b.request(callbackUrl);
  assert.equal(cb.status, 302);
  assert.equal(cb.headers.get('location'), '/');
});
