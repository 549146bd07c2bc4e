// promgate run with oauth2-proxy flags: --proxy-prefix, --client-secret-file, Secure cookies by default, http issuers refused at start-up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import {
  startPromgate,
  reservePort,
  promgateBuilt,
  makeTempDir,
  type PromgateProc,
  type ReservedPort,
  type TempDir,
} from './harness/index.js';
import { startOidcProvider, TestBrowser, type OidcProviderFixture } from './harness/oidc-provider.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';

const skip = promgateBuilt() ? false : 'build first: npx tsc -p tsconfig.json';
const alice = { id: 'alice', password: 'alice-pw' };
/** No oauth2-proxy flag allows an http provider; promgate's own variable does (see oauth2-proxy-compat.test.ts). */
const INSECURE = { PROMGATE_AUTH__OIDC__INSECURE: 'true' };

let idp: OidcProviderFixture;
let app: Stub;
let tmp: TempDir;
let ports: { prefix: number; secretFile: number };
/** Each port stays bound by a placeholder until its promgate starts (the IdP must know it first). */
let held: Record<keyof typeof ports, ReservedPort>;
const procs: PromgateProc[] = [];

before(async () => {
  if (skip) return;
  held = { prefix: await reservePort(), secretFile: await reservePort() };
  ports = { prefix: held.prefix.port, secretFile: held.secretFile.port };
  app = await startStub(echoJson);
  tmp = makeTempDir('oidc-cli-flags');
  idp = await startOidcProvider({
    redirectUris: [
      `http://127.0.0.1:${ports.prefix}/auth/callback`,
      `http://127.0.0.1:${ports.secretFile}/oauth2/callback`,
    ],
  });
});
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(Object.values(held ?? {}).map((h) => h.release()));
  await idp?.close();
  await app?.close();
  tmp?.remove();
});

/** The oauth2-proxy flags of a small deployment, without --client-secret, --cookie-secure or --redirect-url. */
function baseFlags(port: number): string[] {
  return [
    '--provider=oidc',
    `--oidc-issuer-url=${idp.issuer}`,
    `--client-id=${idp.clients.basic.clientId}`,
    `--cookie-secret=${randomBytes(32).toString('base64url')}`,
    '--email-domain=*',
    `--upstream=http://127.0.0.1:${app.port}`,
    `--http-address=127.0.0.1:${port}`,
    '--set-xauthrequest',
  ];
}

async function run(port: number, args: string[], env: Record<string, string> = INSECURE): Promise<PromgateProc> {
  for (const h of Object.values(held)) if (h.port === port) await h.release();
  const pg = await startPromgate({ port, args, env });
  procs.push(pg);
  return pg;
}

/** A native config whose provider is plain http and which does not set auth.oidc.insecure. */
function httpIssuerYaml(): string {
  return [
    'server: { host: 127.0.0.1, port: 0 }',
    'routes: [{ prefix: /, upstream: { url: "http://127.0.0.1:9", type: http } }]',
    'auth:',
    '  oidc:',
    `    issuerUrl: ${idp.issuer}`,
    `    clientId: ${idp.clients.basic.clientId}`,
    `    clientSecret: ${idp.clients.basic.clientSecret}`,
    `    cookie: { secret: ${randomBytes(32).toString('base64url')} }`,
  ].join('\n');
}

const csrfCookie = (res: Response) => res.headers.getSetCookie().find((c) => c.includes('_csrf_'));

test(
  "--proxy-prefix=/auth: sign-in endpoints answer under /auth/*, the callback is /auth/callback, /oauth2/* is the app's",
  { skip },
  async () => {
    const pg = await run(ports.prefix, [
      ...baseFlags(ports.prefix),
      `--client-secret=${idp.clients.basic.clientSecret}`,
      '--proxy-prefix=/auth',
      '--cookie-secure=false',
    ]);
    const anon = new TestBrowser();
    const start = await anon.request(`${pg.url}/auth/start?rd=${encodeURIComponent('/reports')}`);
    assert.equal(start.status, 302);
    const authz = new URL(start.headers.get('location')!);
    assert.equal(authz.origin, idp.issuer, 'sent to the provider');
    assert.equal(authz.searchParams.get('redirect_uri'), `${pg.url}/auth/callback`);
    assert.match(csrfCookie(start) ?? '', /; Path=\/auth(;|$)/, 'the CSRF cookie is scoped to the prefix');

    const signIn = await anon.request(`${pg.url}/auth/sign_in`);
    assert.equal(signIn.status, 200);
    assert.match(await signIn.text(), /href="\/auth\/start\?rd=/);
    assert.equal((await anon.request(`${pg.url}/auth/auth`)).status, 401);
    assert.equal((await anon.request(`${pg.url}/auth/userinfo`)).status, 401);
    assert.equal((await anon.request(`${pg.url}/ping`)).status, 200, 'the ping path stays /ping, as in oauth2-proxy');

    const page = await anon.request(`${pg.url}/reports`);
    assert.equal(page.status, 302);
    assert.equal(
      page.headers.get('location'),
      `/auth/start?rd=${encodeURIComponent('/reports')}`,
      'login redirects use the prefix',
    );
    // /oauth2/* are no longer the gateway's: they are ordinary app paths that need a session.
    for (const p of ['/oauth2/start', '/oauth2/auth', '/oauth2/sign_in', '/oauth2/callback']) {
      const r = await anon.request(`${pg.url}${p}`);
      assert.equal(r.status, 302, p);
      assert.equal(r.headers.get('location'), `/auth/start?rd=${encodeURIComponent(p)}`, p);
    }

    const b = new TestBrowser();
    const { res } = await b.login(`${pg.url}/auth/start?rd=${encodeURIComponent('/reports')}`, alice, '/auth/callback');
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/reports');
    const auth = await b.request(`${pg.url}/auth/auth`);
    assert.equal(auth.status, 202);
    assert.equal(auth.headers.get('x-auth-request-email'), 'alice@example.com');
    const before = app.received.length;
    const signed = await b.request(`${pg.url}/oauth2/anything`);
    assert.equal(signed.status, 200, 'with a session, /oauth2/anything is proxied to the app');
    assert.equal(
      app.received.slice(before).find((r) => r.url === '/oauth2/anything')?.headers['x-forwarded-email'],
      'alice@example.com',
    );
  },
);

test(
  '--client-secret-file: the secret comes from the file; login works end to end; cookies are Secure without --cookie-secure',
  { skip },
  async () => {
    const file = tmp.file('client-secret');
    writeFileSync(file, `${idp.clients.basic.clientSecret}\n`);
    const pg = await run(ports.secretFile, [...baseFlags(ports.secretFile), `--client-secret-file=${file}`]);
    const b = new TestBrowser();
    const start = await b.request(`${pg.url}/oauth2/start?rd=%2Fhome`);
    assert.equal(start.status, 302);
    assert.match(csrfCookie(start) ?? '', /;\s*Secure(;|$)/, 'CSRF cookie: Secure is the default');
    const { res } = await b.login(new URL(start.headers.get('location')!).href, alice);
    assert.equal(res.status, 302, 'the code exchange authenticated with the secret from the file');
    assert.equal(res.headers.get('location'), '/home');
    const session = res.headers.getSetCookie().find((c) => c.startsWith('_oauth2_proxy='));
    assert.match(session ?? '', /;\s*Secure(;|$)/, 'session cookie: Secure is the default');
    const info = await b.request(`${pg.url}/oauth2/userinfo`);
    assert.equal(info.status, 200);
    assert.equal(((await info.json()) as { email: string }).email, 'alice@example.com');
    assert.equal((await b.request(`${pg.url}/home`)).status, 200);
  },
);

test(
  'an http:// issuer without auth.oidc.insecure stops start-up with an error naming the keys (flags and config file)',
  { skip },
  async () => {
    const flags = await startPromgate({
      args: [...baseFlags(0), `--client-secret=${idp.clients.basic.clientSecret}`],
      env: {},
      waitHealthy: false,
    });
    const yaml = httpIssuerYaml();
    const file = await startPromgate({ configYaml: yaml, env: {}, waitHealthy: false });
    procs.push(flags, file);
    for (const [what, pg] of [
      ['flags', flags],
      ['config file', file],
    ] as const) {
      const exit = await pg.waitExit();
      assert.notEqual(exit.code, 0, `${what}: non-zero exit`);
      const err = pg.proc.stderrLines().join('\n');
      assert.match(err, /auth\.oidc\.issuerUrl:? must be https:\/\//, `${what}: ${err}`);
      assert.match(err, /insecure/, `${what}: names the option that allows http`);
    }
  },
);

test('promgate check refuses the same http:// issuer config that run refuses', { skip }, async () => {
  const pg = await startPromgate({ command: 'check', configYaml: httpIssuerYaml(), env: {}, waitHealthy: false });
  procs.push(pg);
  const exit = await pg.waitExit();
  const out = pg.proc.stderrLines().concat(pg.proc.stdoutLines()).join('\n');
  assert.notEqual(exit.code, 0, `check accepted a config run refuses: ${out}`);
  assert.match(out, /auth\.oidc\.(issuerUrl|insecure)/);
});
