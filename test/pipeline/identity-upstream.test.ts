// Upstreams chosen by identity: two users reach two different local apps, identity values that could steer a
// request elsewhere are refused with PG_UPSTREAM_IDENTITY_REFUSED, and 1,000 users keep the pools bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';
import { hmacKey, jwks, sign } from '../authn/jwt-helpers.js';

let east: Stub;
let west: Stub;
let ide: Stub;
let pg: InProcessGateway;
let dir: string;
const key = hmacKey('k1');
const MAX_POOLS = 16;

before(async () => {
  east = await startStub(echoJson);
  west = await startStub(echoJson);
  ide = await startStub(echoJson);
  dir = mkdtempSync(join(tmpdir(), 'promgate-idup-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks(key)));
  pg = await startInProcess({
    yaml: `
auth:
  jwt: { jwks: ${join(dir, 'jwks.json')}, algorithms: [HS256] }
routes:
  - name: apps
    prefix: /apps
    upstream:
      type: http
      url: "${east.url}/default"
      urls:
        - { match: { users: [alice] }, url: "${east.url}/east" }
        - { match: { groups: [west-team] }, url: "${west.url}/west" }
  - name: ide
    prefix: /ide
    upstream:
      type: http
      url: "${ide.url}/ide-{{ user }}"
      maxPools: ${MAX_POOLS}
  - name: byclaim
    prefix: /byclaim
    upstream:
      type: http
      url: "${ide.url}/ws-{{ claims.workspace | lower }}"
`,
  });
});

after(async () => {
  await pg?.close();
  await Promise.all([east?.close(), west?.close(), ide?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function as(claims: Record<string, unknown>, path: string) {
  const token = await sign(key, { sub: String(claims.preferred_username ?? 'x'), ...claims });
  const r = await request(`${pg.url}${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  return { status: r.statusCode, text: await r.body.text() };
}

const last = (s: Stub) => s.received[s.received.length - 1]!;

test('two users reach two different local apps; others go to the default', async () => {
  const a = await as({ preferred_username: 'alice' }, '/apps/hello');
  assert.equal(a.status, 200, a.text);
  assert.equal(last(east).url, '/east/hello');
  const westBefore = west.received.length;
  const b = await as({ preferred_username: 'bob', groups: ['west-team'] }, '/apps/hello');
  assert.equal(b.status, 200, b.text);
  assert.equal(west.received.length, westBefore + 1);
  assert.equal(last(west).url, '/west/hello');
  const c = await as({ preferred_username: 'carol' }, '/apps/hello');
  assert.equal(c.status, 200, c.text);
  assert.equal(last(east).url, '/default/hello');
});

test('a templated URL takes the user; the value is lowercased (DNS names are case-insensitive)', async () => {
  const r = await as({ preferred_username: 'Dave-01' }, '/ide/workspace');
  assert.equal(r.status, 200, r.text);
  assert.equal(last(ide).url, '/ide-dave-01/workspace');
  const c = await as({ preferred_username: 'x', workspace: 'Team7' }, '/byclaim/a');
  assert.equal(c.status, 200, c.text);
  assert.equal(last(ide).url, '/ws-team7/a');
});

/** Values that would leave the label they stand in, each refused before any upstream is dialled. */
const HOSTILE: [string, string][] = [
  ['parent path', '../x'],
  ['fragment to another host', 'evil.com#'],
  ['host and port', 'a.b:1'],
  ['encoded dot', '%2e'],
  ['Cyrillic а look-alike', 'аlice'],
  ['Kelvin sign (lowercases to k)', '\u212Aelvin'],
  ['userinfo', 'a@evil.com'],
  ['slash', 'a/b'],
  ['query', 'a?b'],
  ['space', 'a b'],
  ['leading hyphen', '-a'],
  ['trailing hyphen', 'a-'],
  ['newline', 'a\nb'],
  ['64 characters', 'a'.repeat(64)],
  ['very long', 'a'.repeat(5000)],
];

test('identity values that are not DNS labels are refused with 403 PG_UPSTREAM_IDENTITY_REFUSED', async () => {
  const seen = ide.received.length;
  for (const [name, user] of HOSTILE) {
    const r = await as({ preferred_username: user }, '/ide/x');
    assert.equal(r.status, 403, `${name}: ${r.text}`);
    const body = JSON.parse(r.text) as { status: string; errorType: string; error: string; code: string };
    assert.equal(body.errorType, 'forbidden', name);
    assert.equal(body.code, 'PG_UPSTREAM_IDENTITY_REFUSED', name);
    assert.match(body.error, /DNS label/, name);
  }
  assert.equal(ide.received.length, seen, 'nothing reached any upstream');
  // Control row: a 63-character label passes, so the table's oracle can fail.
  const ok = await as({ preferred_username: 'a'.repeat(63) }, '/ide/x');
  assert.equal(ok.status, 200, ok.text);
});

test('an empty or missing value is refused too (no "ide-" upstream)', async () => {
  const empty = await as({ preferred_username: '', sub: '' }, '/ide/x');
  assert.ok(empty.status === 403 || empty.status === 401, empty.text);
  const missing = await as({ preferred_username: 'x' }, '/byclaim/x');
  assert.equal(missing.status, 403, missing.text);
  assert.equal((JSON.parse(missing.text) as { code: string }).code, 'PG_UPSTREAM_IDENTITY_REFUSED');
  const list = await as({ preferred_username: 'x', workspace: ['a', 'b'] }, '/byclaim/x');
  assert.equal(list.status, 403, list.text);
});

test('1,000 distinct users keep the pools bounded by maxPools', async () => {
  const route = pg.gateway
    .runtime()
    .routes.all()
    .find((r) => r.name === 'ide')!;
  for (let i = 0; i < 1000; i += 50) {
    const batch = Array.from({ length: 50 }, (_, j) => as({ preferred_username: `user-${i + j}` }, '/ide/p'));
    for (const r of await Promise.all(batch)) assert.equal(r.status, 200, r.text);
    assert.ok(route.router!.size <= MAX_POOLS, `${route.router!.size} pools`);
  }
  assert.equal(route.router!.size, MAX_POOLS);
  const metrics = await (await request(`${pg.url}/metrics`)).body.text();
  assert.match(metrics, new RegExp(`^promgate_upstream_pools\\{route="ide"\\} ${MAX_POOLS}$`, 'm'));
  assert.ok(ide.received.some((r) => r.url === '/ide-user-999/p'));
  assert.ok(ide.received.some((r) => r.url === '/ide-user-0/p'));
});
