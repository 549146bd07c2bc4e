// Header directives (routes[].headers) against a recording upstream: the KubeSphere cookie → Authorization case,
// forged identity headers, removal by wildcard, templates that resolve to nothing, response directives, and the
// route fields methods, stripPrefix and rewrite as the upstream sees them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';

let app: Stub;
let pg: InProcessGateway;
let dir: string;
const ENV_NAME = 'PROMGATE_TEST_DIRECTIVE_VALUE';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

before(async () => {
  app = await startStub((req, res, body) => {
    // An app that leaks debug headers the route's response directives remove.
    res.setHeader('x-upstream-debug', 'internal');
    res.setHeader('x-upstream-trace', 'span-1');
    res.setHeader('x-kept', 'yes');
    echoJson(req, res, body);
  });
  dir = mkdtempSync(join(tmpdir(), 'promgate-directives-'));
  writeFileSync(join(dir, 'users.yaml'), 'users:\n  - {username: alice, password: alice-pw, namespace: team-a}\n');
  writeFileSync(join(dir, 'secret.txt'), 'from-a-file\n');
  process.env[ENV_NAME] = 'from-the-env';
  pg = await startInProcess({
    yaml: `
auth:
  basic: { usersFile: ${join(dir, 'users.yaml')} }
routes:
  - name: ks
    prefix: /clusters/host/app
    upstream: { url: "${app.url}/base", type: http }
    methods: [GET, POST]
    headers:
      request:
        remove: [X-Debug-*, X-Remove-Me]
        set:
          Authorization: 'Bearer {{ cookie "kubesphere-token" }}'
          X-Real-IP: '{{ client_ip }}'
          X-User: '{{ user | upper }}'
          X-Missing-Claim: 'team {{ claims.nosuch }}'
          X-From-Env: '{{ env "${ENV_NAME}" }}'
          X-From-File: '{{ file "${join(dir, 'secret.txt')}" }}'
          Host: 'app.internal'
        add:
          X-Added: 'first'
      response:
        remove: [X-Upstream-*]
        set:
          X-Served-For: '{{ user }}'
  - name: whole
    prefix: /whole
    upstream: { url: "${app.url}", type: http }
    stripPrefix: false
  - name: moved
    prefix: /moved
    upstream: { url: "${app.url}", type: http }
    rewrite: { regex: '^/old/(.*)$', replacement: '/new/$1' }
  - name: badrewrite
    prefix: /badrw
    upstream: { url: "${app.url}", type: http }
    rewrite: { regex: '^/(.*)$', replacement: '/x/../$1' }
`,
  });
});

after(async () => {
  await pg?.close();
  await app?.close();
  delete process.env[ENV_NAME];
  rmSync(dir, { recursive: true, force: true });
});

const last = () => app.received[app.received.length - 1]!;

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'DELETE' = 'GET') {
  const r = await request(`${pg.url}${path}`, {
    method,
    headers: { authorization: basic('alice', 'alice-pw'), ...headers },
  });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

test('the KubeSphere cookie becomes Authorization: Bearer; forged identity headers and removed headers never arrive', async () => {
  const before = app.received.length;
  const r = await get('/clusters/host/app/graph', {
    cookie: 'lang=en; kubesphere-token=eyJ.ks.token; other=1',
    'x-forwarded-user': 'mallory',
    'x-auth-request-user': 'mallory',
    x_forwarded_email: 'mallory@evil.example',
    'x-real-ip': '10.6.6.6',
    'x-debug-trace': 'on',
    'X-Debug-Level': '9',
    'x-remove-me': 'bye',
    'x-added': 'client',
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(app.received.length, before + 1);
  const h = last().headers;
  assert.equal(last().url, '/base/graph');
  assert.equal(h.authorization, 'Bearer eyJ.ks.token');
  assert.equal(h['x-forwarded-user'], undefined);
  assert.equal(h['x-auth-request-user'], undefined);
  assert.equal(h['x-forwarded-email'], undefined);
  assert.equal(h['x_forwarded_email'], undefined);
  // X-Real-IP is promgate's, from the socket (no trusted proxies here), not the client's.
  assert.equal(h['x-real-ip'], '127.0.0.1');
  assert.equal(h['x-debug-trace'], undefined);
  assert.equal(h['x-debug-level'], undefined);
  assert.equal(h['x-remove-me'], undefined);
  assert.equal(h['x-user'], 'ALICE');
  assert.equal(h.host, 'app.internal');
  assert.equal(h['x-from-env'], 'from-the-env');
  assert.equal(h['x-from-file'], 'from-a-file');
  // The client's own X-Added is kept and the directive adds a second value.
  assert.equal(h['x-added'], 'client, first');
  // A template with a part that resolves to nothing removes the header: no "team " and no empty value.
  assert.equal('x-missing-claim' in h, false);
  // Response directives: the app's X-Upstream-* are gone, promgate's header is set, the rest is kept.
  assert.equal(r.headers['x-upstream-debug'], undefined);
  assert.equal(r.headers['x-upstream-trace'], undefined);
  assert.equal(r.headers['x-kept'], 'yes');
  assert.equal(r.headers['x-served-for'], 'alice');
});

test('without the cookie the upstream sees no Authorization at all, never "Bearer " or the basic credential', async () => {
  const r = await get('/clusters/host/app/graph', { cookie: 'lang=en' });
  assert.equal(r.status, 200, r.text);
  assert.equal('authorization' in last().headers, false);
});

test('methods: a method outside the route list gets 405 with Allow, as Prometheus API JSON, and is not forwarded', async () => {
  const before = app.received.length;
  const r = await get('/clusters/host/app/api/v1/query', {}, 'DELETE');
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'GET, POST');
  const body = JSON.parse(r.text) as { status: string; errorType: string; code: string };
  assert.equal(body.status, 'error');
  assert.equal(body.code, 'PG_METHOD_NOT_ALLOWED');
  assert.equal(body.errorType, 'bad_data');
  assert.equal(app.received.length, before);
});

test('stripPrefix: false forwards the whole path; the default strips the prefix', async () => {
  assert.equal((await get('/whole/graph?x=1')).status, 200);
  assert.equal(last().url, '/whole/graph?x=1');
  assert.equal((await get('/clusters/host/app/a/b')).status, 200);
  assert.equal(last().url, '/base/a/b');
});

test('rewrite: the upstream sees the rewritten path; an unmatched path is forwarded as it came', async () => {
  assert.equal((await get('/moved/old/api/v1/x?q=1')).status, 200);
  assert.equal(last().url, '/new/api/v1/x?q=1');
  assert.equal((await get('/moved/other')).status, 200);
  assert.equal(last().url, '/other');
});

test('rewrite: a replacement that makes a dot segment is refused like a client path, not forwarded', async () => {
  const before = app.received.length;
  const r = await get('/badrw/etc', { accept: 'application/json' });
  assert.equal(r.status, 400);
  assert.equal((JSON.parse(r.text) as { errorType: string }).errorType, 'bad_data');
  assert.equal(app.received.length, before);
});

test('file and env values are read at load and again on reload, not per request', async () => {
  writeFileSync(join(dir, 'secret.txt'), 'rotated\n');
  assert.equal((await get('/clusters/host/app/x')).status, 200);
  assert.equal(last().headers['x-from-file'], 'from-a-file', 'the loaded value until a reload');
  process.env[ENV_NAME] = 'env-after-reload';
  assert.equal(await pg.reload(), true);
  assert.equal((await get('/clusters/host/app/x')).status, 200);
  assert.equal(last().headers['x-from-file'], 'rotated');
  assert.equal(last().headers['x-from-env'], 'env-after-reload');
});
