// Identity end to end against a real Prometheus: prometheus-multi-tenant-proxy flags and files, JWT from an RSA
// JWKS over HTTP and an HMAC JWKS file, policy-mapped groups, live users-file reload, and backend tenant headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startStack, startPromgate, makeTempDir, waitFor, type Stack, type PromgateProc } from './harness/index.js';
import { asymKey, hmacKey, jwks, sign, type TestKey } from '../authn/jwt-helpers.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';

let stack: Stack;
let jwksServer: Server;
let jwksUrl: string;
let rsa: TestKey;
let hmac: TestKey;
let stub: Stub;
const tmp = makeTempDir('identity');
const procs: PromgateProc[] = [];

async function pg(o: Parameters<typeof startPromgate>[0]): Promise<PromgateProc> {
  const p = await startPromgate(o);
  procs.push(p);
  return p;
}

before(async () => {
  stack = await startStack();
  rsa = await asymKey('RS256', 'rsa-1');
  hmac = hmacKey('hmac-key');
  const doc = JSON.stringify(jwks(rsa));
  jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(doc));
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  writeFileSync(tmp.file('hmac-jwks.json'), JSON.stringify(jwks(hmac)));
  stub = await startStub(echoJson);
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await stack?.stop();
  jwksServer?.close();
  await stub?.close();
  tmp.remove();
});

const basic = (u: string, p: string) => ({ authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });

async function call(base: string, path: string, headers: Record<string, string> = {}) {
  const r = await request(base + path, { headers });
  const text = await r.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: r.statusCode, headers: r.headers, json, text };
}

async function namespacesSeen(base: string, headers: Record<string, string>): Promise<string[]> {
  const r = await call(
    base,
    '/api/v1/query?query=' + encodeURIComponent('sum by (namespace) (http_requests_total)'),
    headers,
  );
  assert.equal(r.status, 200, r.text);
  const result = (r.json.data as { result: { metric: { namespace: string } }[] }).result;
  return result.map((s) => s.metric.namespace).sort();
}

test('prometheus-multi-tenant-proxy flags: basic users file, protected and unprotected endpoints, live reload', async () => {
  const users = tmp.file('users.yaml');
  writeFileSync(
    users,
    'users:\n  - username: User-a\n    password: pass-a\n    namespace: team-a\n  - username: Multi\n    password: pw\n    namespaces: [team-b, team-c]\n',
  );
  const p = await pg({
    args: [
      '--prometheus-endpoint',
      stack.prom.base,
      '--port',
      '{{PORT}}',
      '--auth-config',
      users,
      '--unprotected-endpoints',
      '/-/healthy,/-/ready,/api/v1/status/buildinfo',
    ],
  });
  assert.deepEqual(await namespacesSeen(p.url, basic('User-a', 'pass-a')), ['team-a']);
  assert.deepEqual(await namespacesSeen(p.url, basic('Multi', 'pw')), ['team-b', 'team-c']);

  const noCreds = await call(p.url, '/api/v1/query?query=up');
  assert.equal(noCreds.status, 401);
  assert.match(String(noCreds.headers['www-authenticate']), /^Basic realm="promgate"/);
  const wrong = await call(p.url, '/api/v1/query?query=up', basic('User-a', 'nope'));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.code, 'PG_AUTHN_BAD_CREDENTIALS');

  // Outside --protected-endpoints (default: series, query, query_range): 403 and no prompt.
  const labels = await call(p.url, '/api/v1/labels', basic('User-a', 'pass-a'));
  assert.equal(labels.status, 403);
  assert.equal(labels.json.code, 'PG_PATH_NOT_PROTECTED');
  assert.equal(labels.headers['www-authenticate'], undefined);
  const anon = await call(p.url, '/api/v1/labels');
  assert.equal(anon.status, 403);
  assert.equal(anon.headers['www-authenticate'], undefined);

  // Unprotected: exact path, no credentials needed.
  const info = await call(p.url, '/api/v1/status/buildinfo');
  assert.equal(info.status, 200, 'unprotected paths are served without credentials');
  assert.equal((info.json.data as { version: string }).version, '2.42.0+ds');
  // An unprotected path that needs a tenant still gets none: the anonymous identity maps to no tenant here.
  const p2 = await pg({
    args: [
      '--prometheus-endpoint',
      stack.prom.base,
      '--port',
      '{{PORT}}',
      '--auth-config',
      users,
      '--unprotected-endpoints',
      '/api/v1/query',
    ],
  });
  const leak = await call(p2.url, '/api/v1/query?query=up');
  assert.equal(leak.status, 403);
  assert.equal(leak.json.code, 'PG_TENANT_NONE');

  // A reload that adds a user; then a broken file keeps the last good users.
  writeFileSync(
    users,
    'users:\n  - username: User-a\n    password: pass-a\n    namespace: team-a\n  - username: New\n    password: fresh\n    namespace: tenant.d\n',
  );
  await waitFor(async () => (await call(p.url, '/api/v1/query?query=up', basic('New', 'fresh'))).status === 200, {
    what: 'new user after reload',
    timeoutMs: 10_000,
  });
  assert.deepEqual(await namespacesSeen(p.url, basic('New', 'fresh')), ['tenant.d']);
  writeFileSync(users, 'users: [ {username: broken\n');
  await waitFor(
    () =>
      p
        .logLines()
        .some((l) => l.source === 'auth.basic.usersFile' && l.msg === 'reload failed; keeping the last good version'),
    { what: 'the broken users file to be refused', timeoutMs: 10_000, procs: [p.proc] },
  );
  assert.deepEqual(await namespacesSeen(p.url, basic('New', 'fresh')), ['tenant.d'], 'old users keep working');
  const metrics = await call(p.url, '/metrics');
  assert.match(metrics.text, /promgate_config_reloads_total\{source="auth.basic.usersFile",result="failure"\} [1-9]/);
  // The wrong password above is counted against the method that refused it; the missing credentials against none.
  assert.match(metrics.text, /promgate_auth_failures_total\{method="basic",code="PG_AUTHN_BAD_CREDENTIALS"\} [1-9]/);
  assert.match(metrics.text, /promgate_auth_failures_total\{method="none",code="PG_AUTHN_REQUIRED"\} [1-9]/);
});

test('prometheus-multi-tenant-proxy flags: JWT from an RSA JWKS served over HTTP, Bearer or Token header', async () => {
  const p = await pg({
    args: [
      '--prometheus-endpoint',
      stack.prom.base,
      '--port',
      '{{PORT}}',
      '--auth-type',
      'jwt',
      '--auth-config',
      jwksUrl,
      '--protected-endpoints',
      '',
    ],
  });
  const token = await sign(rsa, { sub: 'svc', namespaces: ['team-b'], labels: {} });
  assert.deepEqual(await namespacesSeen(p.url, { authorization: `Bearer ${token}` }), ['team-b']);
  assert.deepEqual(await namespacesSeen(p.url, { token }), ['team-b']);
  const labelsTok = await sign(rsa, { sub: 'svc2', labels: { namespace: ['team-a', 'tenant.d'] } });
  assert.deepEqual(await namespacesSeen(p.url, { authorization: `Bearer ${labelsTok}` }), ['team-a', 'tenant.d']);
  const expired = await sign(rsa, { namespaces: ['team-b'] }, { exp: -120 });
  const r = await call(p.url, '/api/v1/query?query=up', { authorization: `Bearer ${expired}` });
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'PG_AUTHN_TOKEN_EXPIRED');
  assert.match(String(r.headers['www-authenticate']), /^Bearer error="invalid_token"/);
  const noTenant = await sign(rsa, { sub: 'x' });
  assert.equal(
    (await call(p.url, '/api/v1/query?query=up', { authorization: `Bearer ${noTenant}` })).json.code,
    'PG_TENANT_NONE',
  );
  // With --protected-endpoints "" every enforced endpoint is served.
  const lv = await call(p.url, '/api/v1/label/namespace/values', { authorization: `Bearer ${token}` });
  assert.deepEqual(lv.json.data, ['team-b']);
});

test('JWT from an HMAC JWKS file, like prometheus-multi-tenant-proxy (token without exp)', async () => {
  const p = await pg({
    args: [
      '--prometheus-endpoint',
      stack.prom.base,
      '--port',
      '{{PORT}}',
      '--auth-type',
      'jwt',
      '--auth-config',
      tmp.file('hmac-jwks.json'),
    ],
  });
  const token = await sign(hmac, { namespaces: ['team-c'] }, { exp: null });
  assert.deepEqual(await namespacesSeen(p.url, { authorization: `Bearer ${token}` }), ['team-c']);
});

test('native config: groups claim mapped by policy rules, unrestricted admins', async () => {
  writeFileSync(tmp.file('rsa-jwks.json'), JSON.stringify(jwks(rsa)));
  const p = await pg({
    configYaml: `server: {host: 127.0.0.1, port: {{PORT}}}
routes: [{upstream: {url: "${stack.prom.base}"}}]
auth: {jwt: {jwks: "${jwksUrl}"}}
tenants:
  rules:
    - match: {groups: ["ns-*"]}
      groupPrefix: ns-
      labels: {namespace: "{{ group }}"}
    - match: {groups: [platform-admins]}
      unrestricted: true
`,
  });
  const dev = await sign(rsa, { sub: 'dev', groups: ['ns-team-c', 'ns-tenant.d', 'unrelated'] });
  assert.deepEqual(await namespacesSeen(p.url, { authorization: `Bearer ${dev}` }), ['team-c', 'tenant.d']);
  const admin = await sign(rsa, { sub: 'root', groups: ['platform-admins'] });
  assert.equal((await namespacesSeen(p.url, { authorization: `Bearer ${admin}` })).length, 5);
  const none = await sign(rsa, { sub: 'guest', groups: ['unrelated'] });
  const r = await call(p.url, '/api/v1/query?query=up', { authorization: `Bearer ${none}` });
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'PG_TENANT_NONE');
});

test('backend tenant header and upstream credentials: set by promgate, client copies removed, federation only when allowed', async () => {
  const users = tmp.file('users2.yaml');
  writeFileSync(tmp.file('upstream-token'), 'upstream-secret\n');
  writeFileSync(
    users,
    'users:\n  - {username: a, password: pa, namespace: team-a}\n  - {username: b, password: pb, namespaces: [team-b, team-c]}\n',
  );
  const p = await pg({
    configYaml: `server: {host: 127.0.0.1, port: {{PORT}}}
routes:
  - name: mimir
    prefix: /mimir
    upstream: {url: "${stub.url}/prometheus", type: mimir, tenantHeader: {name: X-Scope-OrgID}, auth: {type: bearer, tokenFile: "${tmp.file('upstream-token')}"}}
  - name: thanos
    prefix: /thanos
    upstream: {url: "${stub.url}", type: thanos, tenantHeader: {name: THANOS-TENANT, allowFederation: true}}
auth: {basic: {usersFile: "${users}"}}
`,
  });
  const r = await call(p.url, '/mimir/api/v1/query?query=up', {
    ...basic('a', 'pa'),
    'x-scope-orgid': 'team-b',
    x_scope_orgid: 'team-b',
  });
  assert.equal(r.status, 200);
  const h = stub.received.at(-1)!.headers;
  assert.equal(h['x-scope-orgid'], 'team-a');
  assert.equal(h['x_scope_orgid'], undefined);
  assert.equal(
    h.authorization,
    'Bearer upstream-secret',
    "the client's Basic credentials are replaced by the upstream's",
  );
  assert.equal(stub.received.at(-1)!.url.split('?')[0], '/prometheus/api/v1/query');
  const refused = await call(p.url, '/mimir/api/v1/query?query=up', basic('b', 'pb'));
  assert.equal(refused.status, 403);
  assert.equal(refused.json.code, 'PG_TENANT_HEADER_INVALID');
  const fed = await call(p.url, '/thanos/api/v1/query?query=up', basic('b', 'pb'));
  assert.equal(fed.status, 200);
  assert.equal(stub.received.at(-1)!.headers['thanos-tenant'], 'team-b|team-c');
});
