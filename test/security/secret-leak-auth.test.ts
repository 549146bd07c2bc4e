// At logLevel trace, no credential promgate is given or shown (passwords, JWTs and their HMAC key, the cookie secret, the OIDC client secret, session cookies, upstream credentials) appears in its output or answers, in any encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { reservePort } from '../e2e/harness/ports.js';
import { waitFor } from '../e2e/harness/wait.js';
import { startOidcProvider, TestBrowser } from '../e2e/harness/oidc-provider.js';
import { startStub } from '../helpers/upstream-stub.js';

/** Every way a secret could be written: as is, base64 (also of user:secret), base64url, percent-encoded, JSON-escaped. */
function spellings(secret: string, user?: string): string[] {
  const out = new Set([
    secret,
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
  ]);
  if (user !== undefined) out.add(Buffer.from(`${user}:${secret}`).toString('base64'));
  // A base64 form of 12+ characters is specific enough; shorter ones could match by chance.
  return [...out].filter((s) => s.length >= 12);
}

test('no secret in stdout, stderr, any answer body or header: successful and failing requests of every kind, and a refused reload', async (t) => {
  const dir = makeTempDir('leak-auth');
  t.after(() => dir.remove());
  const S = {
    userPassword: 'leak-user-password-Zq81',
    wrongPassword: 'leak-wrong-password-Vv27',
    hmacKey: 'leak-hmac-key-0123456789abcdefghijklmnopqrstuv',
    cookieSecret: randomBytes(32).toString('base64'),
    upstreamBearer: 'leak-upstream-bearer-Hh93kq',
    upstreamPassword: 'leak-upstream-password-Pp55',
    badCookieSecret: 'leak-bad-cookie-20ch',
    garbagePassword: 'leak-garbage-users-password-Gg71',
  };
  // The backend fails a request asking for it (fail=1) and answers 200 otherwise; it never echoes (secret-leak.test.ts covers echoes).
  const app = await startStub((req, res) => {
    res.writeHead(req.url?.includes('fail=1') ? 503 : 200, { 'content-type': 'application/json' });
    res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
  });
  t.after(() => app.close());
  // Held until the gateway binds it: the IdP must know the callback URL first.
  const held = await reservePort();
  t.after(() => held.release());
  const port = held.port;
  const idp = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/oauth2/callback`] });
  t.after(() => idp.close());
  const clientSecret = idp.clients.basic.clientSecret;
  const users = dir.file('users.yaml');
  writeFileSync(users, `users:\n  - username: carol\n    password: ${S.userPassword}\n    namespace: team-c\n`);
  const jwks = dir.file('jwks.json');
  writeFileSync(
    jwks,
    JSON.stringify({
      keys: [{ kty: 'oct', kid: 'k1', alg: 'HS256', k: Buffer.from(S.hmacKey).toString('base64url') }],
    }),
  );
  const configYaml = (cookieSecret: string) => `server: { host: 127.0.0.1, port: ${port}, logLevel: trace }
routes:
  - name: down
    prefix: /down
    upstream: { url: "http://127.0.0.1:9", auth: { type: bearer, token: "${S.upstreamBearer}" } }
  - name: app
    prefix: /
    upstream: { url: "${app.url}", auth: { type: basic, username: promgate, password: "${S.upstreamPassword}" } }
auth:
  basic: { usersFile: ${users} }
  jwt: { jwks: ${jwks}, issuer: https://issuer.test, algorithms: [HS256] }
  oidc:
    issuerUrl: ${idp.issuer}
    clientId: ${idp.clients.basic.clientId}
    clientSecret: ${clientSecret}
    insecure: true
    cookie: { secret: "${cookieSecret}", secure: false }
tenants:
  rules:
    - match: { users: [alice] }
      labels: { namespace: team-a }
    - match: { claims: { sub: jwt-user } }
      labels: { namespace: team-b }
`;
  const configPath = dir.file('promgate.yaml');
  writeFileSync(configPath, configYaml(S.cookieSecret));
  await held.release();
  const pg = await startPromgate({ port, configYaml: configYaml(S.cookieSecret), configPath });
  t.after(() => pg.stop());

  const key = new TextEncoder().encode(S.hmacKey);
  const jwt = (claims: { exp?: number }, k = key) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer('https://issuer.test')
      .setSubject('jwt-user')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '10m')
      .sign(k);
  const tokens = {
    good: await jwt({}),
    badSignature: await jwt({}, new TextEncoder().encode('another-hmac-key-0123456789abcdefghijklmnop')),
    expired: await jwt({ exp: Math.floor(Date.now() / 1000) - 3600 }),
  };

  const answers: string[] = [];
  const browser = new TestBrowser();
  const call = async (path: string, headers: Record<string, string> = {}, b = new TestBrowser(), method = 'GET') => {
    const r = await b.request(`${pg.url}${path}`, { method, headers });
    const text = await r.text();
    answers.push(`${r.status} ${JSON.stringify([...r.headers])} ${text}`);
    return r.status;
  };
  const basic = (u: string, p: string) => ({ authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });
  const q = '/api/v1/query?query=up';
  assert.equal(await call(q, basic('carol', S.userPassword)), 200);
  assert.equal(await call(q, basic('carol', S.wrongPassword)), 401);
  assert.equal(await call(q, basic('nobody', S.wrongPassword)), 401);
  assert.equal(await call(q, { authorization: `Basic ${S.wrongPassword}` }), 401);
  assert.equal(await call(q, { authorization: `Bearer ${tokens.good}` }), 200);
  assert.equal(await call(q, { authorization: `Bearer ${tokens.badSignature}` }), 401);
  assert.equal(await call(q, { authorization: `Bearer ${tokens.expired}` }), 401);
  assert.equal(await call(q, { authorization: `Bearer ${tokens.good}x` }), 401);
  assert.equal(await call(`/down${q}`, basic('carol', S.userPassword)), 502);
  assert.equal(await call(`${q}&fail=1`, { authorization: `Bearer ${tokens.good}` }), 503);
  // A signed-in browser: its session cookies are secrets too.
  const login = await browser.login(`${pg.url}/oauth2/start?rd=%2Fgraph`, { id: 'alice', password: 'alice-pw' });
  assert.equal(login.res.status, 302);
  const sessionCookies = browser.jar.names().map((name) => browser.jar.get(name)!);
  assert.ok(sessionCookies.length > 0);
  assert.equal(await call(q, {}, browser), 200);
  await call('/oauth2/userinfo', {}, browser);
  await call('/oauth2/auth', {}, browser);
  const tampered = browser.clone();
  for (const name of tampered.jar.names())
    tampered.jar.set(name, tampered.jar.get(name)!.slice(0, -4) + 'AAAA', pg.url);
  assert.notEqual(await call(q, {}, tampered), 200);
  await call('/oauth2/callback?state=forged&code=forged', {}, browser.clone());
  await call('/oauth2/sign_out', {}, browser);
  await call('/-/ready');
  await call('/metrics');
  // A reload with a bad cookie secret, then a users file of garbage holding a password: both refused and logged.
  writeFileSync(configPath, configYaml(S.badCookieSecret));
  pg.proc.kill('SIGHUP');
  await waitFor(() => pg.logLines().some((l) => String(l.msg).includes('reload refused')) || undefined, {
    what: 'the refused reload',
    procs: [pg.proc],
  });
  writeFileSync(configPath, configYaml(S.cookieSecret));
  writeFileSync(users, `users:\n  - username: carol\n    password: [${S.garbagePassword}\n  bad: {{{\n`);
  pg.proc.kill('SIGHUP');
  await waitFor(() => pg.logLines().filter((l) => String(l.msg).includes('refused')).length >= 2 || undefined, {
    what: 'the refused users file',
    procs: [pg.proc],
  });
  assert.equal(await call(q, basic('carol', S.userPassword)), 200, 'the last good users file keeps serving');
  await pg.stop();

  const output = [...pg.proc.stdoutLines(), ...pg.proc.stderrLines(), ...answers].join('\n');
  // The output is the real one: trace lines and refusals were written.
  assert.ok(
    pg.logLines().some((l) => l.level === 'trace' || l.level === 'debug'),
    'trace/debug lines were written',
  );
  assert.ok(/PG_AUTHN_BAD_CREDENTIALS/.test(output) && /PG_AUTHN_TOKEN_INVALID/.test(output));
  const secrets: [string, string, string?][] = [
    ...Object.entries(S).map(([k, v]) => [k, v] as [string, string]),
    ['userPassword', S.userPassword, 'carol'],
    ['wrongPassword', S.wrongPassword, 'carol'],
    ['upstreamPassword', S.upstreamPassword, 'promgate'],
    ['clientSecret', clientSecret, idp.clients.basic.clientId],
    ...Object.entries(tokens).map(([k, v]) => [`jwt ${k}`, v] as [string, string]),
    // A JWT's signature alone is enough to replay it.
    ...Object.entries(tokens).map(([k, v]) => [`jwt ${k} signature`, v.split('.')[2]!] as [string, string]),
    ...sessionCookies.map((v, i) => [`session cookie ${i}`, v] as [string, string]),
  ];
  const leaks = secrets.flatMap(([name, secret, user]) =>
    spellings(secret, user)
      .filter((s) => output.includes(s))
      .map((s) => `${name} (${s === secret ? 'as is' : s})`),
  );
  assert.deepEqual(leaks, []);
  // The control: the oracle finds a secret where there is one.
  assert.ok(
    spellings(S.userPassword, 'carol').some((s) =>
      `x ${Buffer.from(`carol:${S.userPassword}`).toString('base64')} y`.includes(s),
    ),
  );
});
