// Prevents skip-auth bypasses end to end: a real nginx auth_request in front of a recording app, and promgate's own data path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { startPromgate, freePort, promgateBuilt, type PromgateProc } from './harness/index.js';
import { startOidcProvider, type OidcProviderFixture } from './harness/oidc-provider.js';
import { startNginx, type NginxInstance } from './harness/nginx.js';
import { startStub, echoJson, type Stub } from './upstream-stub.js';

const skip = promgateBuilt() ? false : 'build first: npx tsc -p tsconfig.json';

let idp: OidcProviderFixture;
let pg: PromgateProc;
let nginx: NginxInstance;
/** The protected app behind nginx: records the request line nginx sent it. */
let app: Stub;
/** The app behind promgate's own `type: http` route. */
let direct: Stub;

/**
 * The nginx setup of docs/signin.md (plus X-Forwarded-Method, as ingress-nginx sends it): every path needs the auth
 * subrequest, promgate's skipAuthRoutes decide what is public. `proxy_pass http://app;` without a URI passes the
 * client's request line unchanged, so the app gets "/public/..;/admin" byte for byte, and a servlet app would
 * serve /admin. The auth subrequest's status is echoed in X-Auth-Status on the sign-in redirect.
 */
function readmeNginx(pgPort: number, appPort: number): (port: number) => string {
  return (port) => `
  upstream promgate { server 127.0.0.1:${pgPort}; }
  upstream app { server 127.0.0.1:${appPort}; }
  server {
    listen 127.0.0.1:${port};
    location = /_oauth2_auth {
      internal;
      proxy_pass http://promgate/oauth2/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
    }
    location /oauth2/ { proxy_pass http://promgate; proxy_set_header Host $http_host; }
    location / {
      auth_request /_oauth2_auth;
      auth_request_set $auth_status $upstream_status;
      error_page 401 = @signin;
      proxy_pass http://app;
    }
    location @signin {
      add_header X-Auth-Status $auth_status always;
      return 302 /oauth2/start?rd=$scheme://$http_host$request_uri;
    }
  }`;
}

before(async () => {
  if (skip) return;
  const pgPort = await freePort();
  app = await startStub(echoJson);
  direct = await startStub(echoJson);
  nginx = await startNginx({ http: readmeNginx(pgPort, app.port) });
  idp = await startOidcProvider({ redirectUris: [`${nginx.url}/oauth2/callback`] });
  const cfg = {
    server: { host: '127.0.0.1', port: pgPort, trustedProxies: ['127.0.0.1/32'], logLevel: 'warn' },
    routes: [{ prefix: '/', upstream: { url: direct.url, type: 'http' }, unprotectedPaths: ['/healthz'] }],
    auth: {
      oidc: {
        issuerUrl: idp.issuer,
        clientId: idp.clients.basic.clientId,
        clientSecret: idp.clients.basic.clientSecret,
        insecure: true,
        skipAuthRoutes: ['^/public/'],
        cookie: { secret: randomBytes(32).toString('base64'), secure: false },
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
  await direct?.close();
});

interface Answer {
  status: number;
  location?: string;
  authStatus?: string;
  body: string;
}

/** GET with the request target exactly as given (fetch would resolve "..", and would not send "..;" as is). */
function rawGet(port: number, target: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: target, agent: false, headers: { accept: 'text/html' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            authStatus: res.headers['x-auth-status'] as string | undefined,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Request lines the app got from clients, without promgate's readiness probes. */
const seen = (s: Stub) => s.received.map((r) => r.url).filter((u) => u !== '/-/ready');

/** Bypasses of the finding: the skip rule must not see a public path where nginx and the app see /admin. */
const NGINX_BYPASSES = [
  '/public/x,/../../admin',
  '/public/..;/admin',
  '/public/..%3B/admin',
  '/public/%2e%2e;/admin',
  '/public/.%2E;jsessionid=1/../admin',
];

test(
  'nginx auth_request: the comma and "..;" cases get 401 from promgate and never reach the app; /public/x is served without sign-in',
  { skip },
  async () => {
    const control = await rawGet(nginx.port, '/public/x');
    assert.equal(control.status, 200, 'the control row: a public path needs no session');
    assert.deepEqual(seen(app), ['/public/x']);

    for (const target of NGINX_BYPASSES) {
      const r = await rawGet(nginx.port, target);
      assert.equal(r.status, 302, `${target}: ${r.status} ${r.body.slice(0, 200)}`);
      assert.equal(r.authStatus, '401', `${target}: promgate answered the auth subrequest 401 (no skip)`);
      assert.equal(
        new URL(r.location ?? '', nginx.url).pathname,
        '/oauth2/start',
        'nginx sends the browser to sign in',
      );
    }
    assert.deepEqual(seen(app), ['/public/x'], 'the app received none of the bypass attempts');

    // An encoded ";" in a public name is served, and nginx passes it on still encoded.
    const encoded = await rawGet(nginx.port, '/public/a%3Bb');
    assert.equal(encoded.status, 200);
    assert.deepEqual(seen(app), ['/public/x', '/public/a%3Bb']);
  },
);

test(
  'data path (type: http with skipAuthRoutes and unprotectedPaths): "..;" is refused with 400 and nothing is forwarded; %3B stays encoded',
  { skip },
  async () => {
    for (const target of [
      '/public/..;/admin',
      '/public/..%3B/admin',
      '/public/%2e%2e;/admin',
      '/public/.%2E;x/../admin',
      '/healthz/..;/admin',
      '/public/;x/../admin',
    ]) {
      const r = await rawGet(pg.port, target);
      assert.equal(r.status, 400, `${target}: ${r.status} ${r.body.slice(0, 200)}`);
      assert.match(r.body, /PG_BAD_REQUEST/, target);
    }
    assert.deepEqual(seen(direct), [], 'the app behind promgate received nothing');

    // Controls: the protected path needs sign-in; public and unprotected paths are forwarded as the client spelled them.
    assert.equal((await rawGet(pg.port, '/admin')).status, 302, '/admin without a session goes to sign-in');
    for (const target of ['/public/x', '/public/a%3Bb', '/public/a;b', '/public/a%3bb', '/healthz']) {
      assert.equal((await rawGet(pg.port, target)).status, 200, target);
    }
    assert.deepEqual(
      seen(direct),
      ['/public/x', '/public/a%3Bb', '/public/a;b', '/public/a%3Bb', '/healthz'],
      'a "%3B" arrives encoded, a raw ";" raw',
    );
  },
);
