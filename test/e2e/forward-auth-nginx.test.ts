// A real nginx configured as ingress-nginx's auth annotations produce it, with promgate answering its auth_request subrequests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { startPromgate, freePort, promgateBuilt, elapsed, type PromgateProc } from './harness/index.js';
import {
  startOidcProvider,
  TestBrowser,
  DEFAULT_USERS,
  type OidcProviderFixture,
  type TestUser,
} from './harness/oidc-provider.js';
import { startNginx, type NginxInstance } from './harness/nginx.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';

const skip = promgateBuilt() ? false : 'build first: npx tsc -p tsconfig.json';
const alice = { id: 'alice', password: 'alice-pw' };
/** Enough groups (in the ID token and in the session's claims) that the sealed session needs two cookies. */
const carol: TestUser = {
  id: 'carol',
  password: 'carol-pw',
  email: 'carol@example.com',
  emailVerified: true,
  preferredUsername: 'carol',
  groups: Array.from({ length: 24 }, (_, i) => `platform-observability-group-${String(i).padStart(2, '0')}`),
};

let idp: OidcProviderFixture;
let pg: PromgateProc;
let nginx: NginxInstance;
let app: Stub;

/**
 * What ingress-nginx generates for `auth-url: http://promgate/oauth2/auth`, `auth-signin:
 * /oauth2/sign_in?rd=$scheme://$host$request_uri`, `auth-response-headers: Authorization, X-Auth-Request-*`,
 * and relaying the auth answer's Set-Cookie (a refreshed session) with auth_request_set + add_header.
 * ($escaped_request_uri needs ingress-nginx's Lua; plain nginx has only the raw $request_uri.)
 *
 * Findings about sessions too big for one cookie (split into _oauth2_proxy_0, _1), all on nginx 1.22.1:
 *  - `$upstream_http_set_cookie` holds only the FIRST Set-Cookie of the auth answer. After a refresh the
 *    browser gets the new _0 but keeps the old _1, and the session is lost at the next request (test 2).
 *  - The callback of a split session answers with ~5.6 KB of Set-Cookie: nginx's default proxy_buffer_size (4k)
 *    fails it with "upstream sent too big header" (502), hence proxy_buffer_size 16k below (ingress-nginx:
 *    `nginx.ingress.kubernetes.io/proxy-buffer-size: "16k"`). A third chunk makes the Cookie request header
 *    exceed large_client_header_buffers (8k): nginx answers 400. One-cookie sessions work with the defaults.
 *  - oauth2-proxy's documented `if ($auth_cookie ~* "(; .*)") { set …; add_header … }` snippet relays nothing
 *    here: if/set run in the rewrite phase, before auth_request has set the variables. `map` is evaluated
 *    lazily, when add_header reads it, so the /split/ location below relays the second chunk correctly.
 *  - The Redis session store avoids all of it: the cookie is a small ticket and a refresh sets no cookie.
 */
function ingressNginx(pgPort: number, appPort: number): (port: number) => string {
  const authLocation = (name: string, query: string) => `
    location = ${name} {
      internal;
      proxy_pass http://promgate/oauth2/auth${query};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Auth-Request-Redirect $request_uri;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Real-IP $remote_addr;
    }`;
  const protectedLocation = (path: string, auth: string, extra = '') => `
    location ${path} {
      auth_request ${auth};
      auth_request_set $auth_authorization $upstream_http_authorization;
      auth_request_set $auth_user $upstream_http_x_auth_request_user;
      auth_request_set $auth_email $upstream_http_x_auth_request_email;
      auth_request_set $auth_groups $upstream_http_x_auth_request_groups;
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $auth_cookie;${extra}
      proxy_set_header Authorization $auth_authorization;
      proxy_set_header X-Auth-Request-User $auth_user;
      proxy_set_header X-Auth-Request-Email $auth_email;
      proxy_set_header X-Auth-Request-Groups $auth_groups;
      error_page 401 = @signin;
      proxy_pass http://app;
    }`;
  // The second chunk's value from the auth answer, with the first chunk's attributes (Path, Max-Age, HttpOnly…).
  const secondChunk = `
      auth_request_set $auth_cookie_1_value $upstream_cookie__oauth2_proxy_1;
      add_header Set-Cookie $auth_cookie_1;`;
  return (port) => `
  map $auth_cookie $auth_cookie_attrs { "~^[^;]*(?<attrs>;.*)$" $attrs; default ""; }
  map $auth_cookie_1_value $auth_cookie_1 { "" ""; default "_oauth2_proxy_1=$auth_cookie_1_value$auth_cookie_attrs"; }
  proxy_buffer_size 16k;
  proxy_buffers 8 16k;
  upstream promgate { server 127.0.0.1:${pgPort}; }
  upstream app { server 127.0.0.1:${appPort}; }
  server {
    listen 127.0.0.1:${port};
    location /oauth2/ {
      proxy_pass http://promgate;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
    ${authLocation('/_oauth2_auth', '')}
    ${authLocation('/_oauth2_auth_team_b', '?allowed_groups=team-b')}
    ${protectedLocation('/app/', '/_oauth2_auth')}
    ${protectedLocation('/team-b/', '/_oauth2_auth_team_b')}
    ${protectedLocation('/split/', '/_oauth2_auth', secondChunk)}
    # $http_host keeps the port (like ingress-nginx's $best_http_host); $host would drop it and fail the whitelist.
    # error_page 401 → sign_in with rd, as ingress-nginx's auth-signin annotation sets it up.
    location @signin {
      return 302 /oauth2/sign_in?rd=$scheme://$http_host$request_uri;
    }
  }`;
}

before(async () => {
  if (skip) return;
  const pgPort = await freePort();
  app = await startStub(echoJson);
  nginx = await startNginx({ http: ingressNginx(pgPort, app.port) });
  idp = await startOidcProvider({ redirectUris: [`${nginx.url}/oauth2/callback`], users: [...DEFAULT_USERS, carol] });
  const cfg = {
    server: { host: '127.0.0.1', port: pgPort, trustedProxies: ['127.0.0.1/32'], logLevel: 'warn' },
    auth: {
      oidc: {
        issuerUrl: idp.issuer,
        clientId: idp.clients.basic.clientId,
        clientSecret: idp.clients.basic.clientSecret,
        insecure: true,
        scopes: ['openid', 'email', 'profile', 'groups'],
        setAuthorizationHeader: true,
        setXAuthRequest: true,
        // --skip-provider-button: sign_in continues straight to the provider instead of showing its button.
        skipProviderButton: true,
        whitelistDomains: [`127.0.0.1:${nginx.port}`],
        cookie: { secret: randomBytes(32).toString('base64'), secure: false, refresh: '2s' },
      },
    },
  };
  pg = await startPromgate({ port: pgPort, configYaml: stringify(cfg) });
});

after(async () => {
  await nginx?.stop();
  await pg?.stop();
  await idp?.close();
  await app?.close();
});

function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  assert.ok(part, `a JWT: ${token.slice(0, 40)}`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The ID token the app got as `Authorization: Bearer …`, checked to be the provider's ID token for this client. */
function idTokenSeenByApp(): string {
  const auth = String(app.received.at(-1)?.headers.authorization);
  assert.match(auth, /^Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  const token = auth.slice('Bearer '.length);
  const claims = jwtPayload(token);
  assert.equal(claims.iss, idp.issuer);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  assert.ok(aud.includes(idp.clients.basic.clientId), `aud ${JSON.stringify(claims.aud)} names the client`);
  assert.equal(claims.sub, 'alice');
  assert.equal(typeof claims.nonce, 'string', 'an ID token (it carries the login nonce), not an access token');
  return token;
}

/** The session cookie and its chunks (_oauth2_proxy_0, …), not the login CSRF cookie. */
const sessionSetCookies = (res: Response) => res.headers.getSetCookie().filter((c) => /^_oauth2_proxy(_\d+)?=/.test(c));
const names = (setCookies: string[]) => setCookies.map((c) => c.slice(0, c.indexOf('='))).sort();

/** Opens `page` without a session, follows nginx's sign-in redirect and logs in; returns the browser. */
async function signedIn(
  page: string,
  user: { id: string; password: string },
): Promise<{ b: TestBrowser; login: Response }> {
  const b = new TestBrowser();
  const anon = await b.request(page);
  assert.equal(anon.status, 302, `${page} without a session`);
  const signIn = new URL(anon.headers.get('location')!, page);
  assert.equal(signIn.pathname, '/oauth2/sign_in', 'nginx sends the browser to sign_in with rd');
  assert.equal(signIn.searchParams.get('rd'), page);
  const { res } = await b.login(new URL(anon.headers.get('location')!, page).href, user);
  assert.equal(res.status, 302, 'callback redirects back');
  assert.equal(res.headers.get('location'), page);
  return { b, login: res };
}

test(
  'nginx auth_request: sign-in redirect, ID token and X-Auth-Request-* upstream, 403 on group limits, refreshed cookie relayed',
  { skip },
  async () => {
    const page = `${nginx.url}/app/dashboard`;

    // No session: promgate answers the subrequest 401, nginx's error_page turns it into the sign-in redirect.
    const anon = await fetch(page, { redirect: 'manual' });
    assert.equal(anon.status, 302);
    const start = new URL(anon.headers.get('location')!, nginx.url);
    assert.equal(start.pathname, '/oauth2/sign_in');
    assert.equal(start.searchParams.get('rd'), page);
    // With skipProviderButton, sign_in continues to start with the same rd.
    const cont = await fetch(start, { redirect: 'manual' });
    assert.equal(cont.status, 302);
    const next = new URL(cont.headers.get('location')!, nginx.url);
    assert.equal(next.pathname, '/oauth2/start');
    assert.equal(next.searchParams.get('rd'), page);
    assert.equal(app.received.length, 0, 'nothing reached the app');

    // Sign in through nginx's /oauth2/ location; the callback sends the browser back to the whitelisted rd.
    const { b, login } = await signedIn(page, alice);
    const loggedIn = Date.now();
    assert.deepEqual(names(sessionSetCookies(login)), ['_oauth2_proxy'], 'this session fits one cookie');

    const first = await b.request(page);
    assert.equal(first.status, 200);
    assert.deepEqual(sessionSetCookies(first), [], 'a fresh session sets no cookie');
    const seen = app.received.at(-1)!.headers;
    assert.equal(seen['x-auth-request-user'], 'alice');
    assert.equal(seen['x-auth-request-email'], 'alice@example.com');
    assert.equal(seen['x-auth-request-groups'], 'team-a,admins');
    const idToken1 = idTokenSeenByApp();

    // Per-location limits on the auth URL: alice is not in team-b.
    const denied = await b.request(`${nginx.url}/team-b/x`);
    assert.equal(denied.status, 403);
    assert.equal(app.received.length, 1, 'the app saw only the allowed request');

    // After cookie-refresh (2s), the next request refreshes; nginx relays the new cookie to the browser. A real
    // interval: it must pass on the spawned gateway's clock since the session was made.
    await elapsed(loggedIn, 2100);
    const before = idp.tokenRequests('refresh_token');
    const refreshed = await b.request(page);
    assert.equal(refreshed.status, 200);
    assert.equal(idp.tokenRequests('refresh_token') - before, 1, 'one refresh at the provider');
    const relayed = sessionSetCookies(refreshed);
    assert.deepEqual(
      names(relayed),
      ['_oauth2_proxy'],
      `the refreshed session cookie reached the browser: ${refreshed.headers.getSetCookie().join(' | ')}`,
    );
    assert.match(relayed[0]!, /; HttpOnly/);
    const idToken2 = idTokenSeenByApp();
    assert.notEqual(idToken2, idToken1, 'the app got the refreshed ID token');

    // The relayed cookie is the whole session: the next request is accepted without another refresh.
    const after = await b.request(page);
    assert.equal(after.status, 200);
    assert.deepEqual(sessionSetCookies(after), [], 'the stored refreshed cookie is fresh');
    assert.equal(idp.tokenRequests('refresh_token') - before, 1);
    assert.equal(idTokenSeenByApp(), idToken2);
  },
);

test(
  'a session split into two cookies: plain auth_request_set loses it at refresh, relaying the second chunk keeps it',
  { skip },
  async () => {
    const plain = await signedIn(`${nginx.url}/app/big`, carol);
    const split = await signedIn(`${nginx.url}/split/big`, carol);
    const loggedIn = Date.now();
    for (const { login } of [plain, split])
      assert.deepEqual(names(sessionSetCookies(login)), ['_oauth2_proxy_0', '_oauth2_proxy_1'], 'the session is split');
    for (const [b, page] of [
      [plain.b, `${nginx.url}/app/big`],
      [split.b, `${nginx.url}/split/big`],
    ] as const) {
      assert.equal((await b.request(page)).status, 200, `${page} with the split session`);
    }
    // A real interval: cookie-refresh (2s) must pass on the spawned gateway's clock since both sessions were made.
    await elapsed(loggedIn, 2100);

    // Plain: only the first Set-Cookie of the auth answer reaches the browser, which now holds new _0 + old _1.
    const r1 = await plain.b.request(`${nginx.url}/app/big`);
    assert.equal(r1.status, 200, 'the refreshing request itself passes');
    assert.deepEqual(names(sessionSetCookies(r1)), ['_oauth2_proxy_0'], 'nginx relayed the first chunk only');
    const lost = await plain.b.request(`${nginx.url}/app/big`);
    assert.equal(lost.status, 302, 'the mixed chunks do not open: the browser is sent to sign in again');
    assert.equal(new URL(lost.headers.get('location')!, nginx.url).pathname, '/oauth2/sign_in');

    // Relaying the second chunk too (map-built Set-Cookie) keeps the session across the refresh.
    const r2 = await split.b.request(`${nginx.url}/split/big`);
    assert.equal(r2.status, 200);
    assert.deepEqual(names(sessionSetCookies(r2)), ['_oauth2_proxy_0', '_oauth2_proxy_1'], 'both chunks relayed');
    assert.match(
      sessionSetCookies(r2).find((c) => c.startsWith('_oauth2_proxy_1='))!,
      /; Path=\/; Max-Age=\d+; .*HttpOnly/,
    );
    const kept = await split.b.request(`${nginx.url}/split/big`);
    assert.equal(kept.status, 200, 'the refreshed split session opens');
    assert.deepEqual(sessionSetCookies(kept), [], 'and is fresh');
  },
);
