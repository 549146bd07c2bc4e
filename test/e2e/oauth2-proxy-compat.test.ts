// promgate run with oauth2-proxy's flags or OAUTH2_PROXY_* variables only, in front of a plain app: login, identity headers, refused options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startPromgate, freePort, promgateBuilt, sleep, type PromgateProc } from './harness/index.js';
import { startOidcProvider, TestBrowser, type OidcProviderFixture } from './harness/oidc-provider.js';
import { startStub, echoJson, type Stub, type StubHandler } from '../helpers/upstream-stub.js';

const skip = promgateBuilt() ? false : 'build first: npx tsc -p tsconfig.json';
const alice = { id: 'alice', password: 'alice-pw' };
/**
 * oauth2-proxy has no flag for a provider over plain http (it simply allows it); promgate requires
 * auth.oidc.insecure, which no oauth2-proxy flag sets, so the test provider needs this one native variable.
 */
const INSECURE = { PROMGATE_AUTH__OIDC__INSECURE: 'true' };

/** A web app that, like most, sets a cookie of its own on every answer. */
const appWithCookie: StubHandler = (req, res, body) => {
  res.setHeader('set-cookie', 'app_theme=dark; Path=/; HttpOnly');
  echoJson(req, res, body);
};

let idp: OidcProviderFixture;
let flagsGateway: PromgateProc;
let app: Stub;
let ports: { flags: number; env: number };
const procs: PromgateProc[] = [];

before(async () => {
  if (skip) return;
  ports = { flags: await freePort(), env: await freePort() };
  app = await startStub(appWithCookie);
  idp = await startOidcProvider({
    redirectUris: Object.values(ports).map((p) => `http://127.0.0.1:${p}/oauth2/callback`),
  });
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await idp?.close();
  await app?.close();
});

const cookieSecret = () => randomBytes(32).toString('base64url');

function flags(port: number): string[] {
  return [
    '--provider=oidc',
    `--oidc-issuer-url=${idp.issuer}`,
    `--client-id=${idp.clients.basic.clientId}`,
    `--client-secret=${idp.clients.basic.clientSecret}`,
    `--cookie-secret=${cookieSecret()}`,
    '--cookie-secure=false',
    '--email-domain=*',
    `--upstream=http://127.0.0.1:${app.port}`,
    `--http-address=127.0.0.1:${port}`,
    `--redirect-url=http://127.0.0.1:${port}/oauth2/callback`,
    '--scope=openid email profile groups',
    '--pass-access-token',
    '--cookie-refresh=2s',
    '--skip-auth-route=^/healthz$',
  ];
}

/** The same settings as OAUTH2_PROXY_* variables (list options take their plural names there). */
function variables(port: number): Record<string, string> {
  return {
    OAUTH2_PROXY_PROVIDER: 'oidc',
    OAUTH2_PROXY_OIDC_ISSUER_URL: idp.issuer,
    OAUTH2_PROXY_CLIENT_ID: idp.clients.basic.clientId,
    OAUTH2_PROXY_CLIENT_SECRET: idp.clients.basic.clientSecret,
    OAUTH2_PROXY_COOKIE_SECRET: cookieSecret(),
    OAUTH2_PROXY_COOKIE_SECURE: 'false',
    OAUTH2_PROXY_EMAIL_DOMAINS: 'example.com',
    OAUTH2_PROXY_UPSTREAMS: `http://127.0.0.1:${app.port}`,
    OAUTH2_PROXY_HTTP_ADDRESS: `127.0.0.1:${port}`,
    OAUTH2_PROXY_REDIRECT_URL: `http://127.0.0.1:${port}/oauth2/callback`,
  };
}

/** What the app received from browsers, without promgate's own readiness probes of it (every 5 s, from each gateway). */
const browserRequests = () => app.received.filter((r) => r.url !== '/-/ready');

/** Browses to a protected app page, signs in, lands back on it, and returns what the app received. */
async function browse(base: string, path: string) {
  const b = new TestBrowser();
  const first = await b.request(base + path);
  assert.equal(first.status, 302, 'no session: sent to sign in');
  assert.equal(first.headers.get('location'), `/oauth2/start?rd=${encodeURIComponent(path)}`);
  const { res } = await b.login(new URL(first.headers.get('location')!, base).href, alice);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), path);
  const before = browserRequests().length;
  // A client-sent identity header must not survive: promgate replaces it with the session's.
  const page = await b.request(base + path, {
    headers: { 'x-forwarded-user': 'mallory', 'x-forwarded-email': 'mallory@example.com' },
  });
  assert.equal(page.status, 200);
  assert.equal(browserRequests().length, before + 1, 'the app got the request');
  return { b, got: browserRequests().at(-1)! };
}

test(
  'oauth2-proxy flags only: login, then the app receives X-Forwarded-User/-Email/-Groups/-Access-Token',
  { skip },
  async () => {
    const pg = (flagsGateway = await startPromgate({ port: ports.flags, args: flags(ports.flags), env: INSECURE }));
    procs.push(pg);
    const { b, got } = await browse(pg.url, '/reports/q3?format=html');
    assert.equal(got.url, '/reports/q3?format=html', 'path and query reach the app unchanged');
    assert.equal(got.headers['x-forwarded-user'], 'alice');
    assert.equal(got.headers['x-forwarded-email'], 'alice@example.com');
    assert.equal(got.headers['x-forwarded-groups'], 'team-a,admins');
    assert.equal(got.headers['x-forwarded-preferred-username'], 'alice');
    assert.ok(String(got.headers['x-forwarded-access-token'] ?? '').length > 10, '--pass-access-token');
    assert.equal(got.headers.authorization, undefined, 'no --pass-authorization-header');
    assert.doesNotMatch(
      String(got.headers.cookie ?? ''),
      /_oauth2_proxy/,
      "promgate's session cookie stays with promgate",
    );

    // --skip-auth-route: no session needed; other paths still need one; /ping is oauth2-proxy's liveness path.
    const anon = new TestBrowser();
    assert.equal((await anon.request(`${pg.url}/healthz`)).status, 200);
    assert.equal(browserRequests().at(-1)!.url, '/healthz');
    assert.equal(browserRequests().at(-1)!.headers['x-forwarded-user'], undefined, 'skipped route: no identity');
    assert.equal((await anon.request(`${pg.url}/healthz/x`)).status, 302);
    assert.equal((await anon.request(`${pg.url}/ping`)).status, 200);
    const info = await b.request(`${pg.url}/oauth2/userinfo`);
    assert.deepEqual(await info.json(), {
      user: 'alice',
      email: 'alice@example.com',
      groups: ['team-a', 'admins'],
      preferredUsername: 'alice',
    });
  },
);

test(
  "a refreshed session cookie reaches the browser even when the app's answer sets cookies too",
  { skip },
  async () => {
    assert.ok(flagsGateway, 'needs the gateway of the first test');
    const { b } = await browse(flagsGateway.url, '/settings');
    // A real interval: the spawned gateway's --cookie-refresh=2s must pass on its clock before the next request.
    await sleep(2100);
    const before = idp.tokenRequests('refresh_token');
    const res = await b.request(`${flagsGateway.url}/settings`);
    assert.equal(res.status, 200);
    assert.equal(idp.tokenRequests('refresh_token') - before, 1, 'this request refreshed the session');
    const names = res.headers.getSetCookie().map((c) => c.slice(0, c.indexOf('=')));
    assert.ok(names.includes('app_theme'), `the app's cookie: ${names.join(', ')}`);
    assert.ok(names.includes('_oauth2_proxy'), `and the refreshed session: ${names.join(', ')}`);
    const next = await b.request(`${flagsGateway.url}/settings`);
    assert.equal(next.status, 200);
    assert.equal(
      idp.tokenRequests('refresh_token') - before,
      1,
      'the browser holds the refreshed session: no second refresh',
    );
  },
);

test(
  'OAUTH2_PROXY_* variables only: the same gateway from the environment (email domain limit included)',
  { skip },
  async () => {
    const pg = await startPromgate({ port: ports.env, env: { ...INSECURE, ...variables(ports.env) } });
    procs.push(pg);
    const { got } = await browse(pg.url, '/');
    assert.equal(got.headers['x-forwarded-user'], 'alice');
    assert.equal(got.headers['x-forwarded-email'], 'alice@example.com');
    const bob = await new TestBrowser().login(`${pg.url}/oauth2/start`, { id: 'bob', password: 'bob-pw' });
    assert.equal(bob.res.status, 403, 'bob@other.org is outside OAUTH2_PROXY_EMAIL_DOMAINS');
  },
);

test('an unsupported oauth2-proxy option stops start-up, naming the option', { skip }, async () => {
  for (const [args, env, name] of [
    [['--provider=oidc', '--github-org=x', '--http-address=127.0.0.1:0'], {}, '--github-org'],
    [['--provider=oidc', '--http-address=127.0.0.1:0'], { OAUTH2_PROXY_GITHUB_ORG: 'x' }, 'OAUTH2_PROXY_GITHUB_ORG'],
  ] as const) {
    const pg = await startPromgate({ args: [...args], env, waitHealthy: false });
    procs.push(pg);
    const exit = await pg.waitExit();
    assert.notEqual(exit.code, 0, `${name}: non-zero exit`);
    const err = pg.proc.stderrLines().join('\n');
    assert.match(err, /unsupported oauth2-proxy option/);
    assert.ok(err.includes(name), `stderr names ${name}: ${err}`);
  }
});
