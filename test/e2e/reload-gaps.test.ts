// Reloads the file watcher cannot see (SIGHUP alone, server.reloadInterval alone) and exact-path unprotected endpoints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { startStack, startPromgate, makeTempDir, waitFor, sleep, type Stack, type PromgateProc } from './harness/index.js';

let stack: Stack;
const tmp = makeTempDir('reload-gaps');
const procs: PromgateProc[] = [];
let seq = 0;

before(async () => {
  stack = await startStack();
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await stack?.stop();
  tmp.remove();
});

async function pg(o: Parameters<typeof startPromgate>[0]): Promise<PromgateProc> {
  const p = await startPromgate(o);
  procs.push(p);
  return p;
}

const usersYaml = (password: string) => `users:\n  - username: alice\n    password: ${password}\n    namespace: team-a\n`;

/**
 * A users file the watcher cannot see change. promgate watches the *directory* of auth.basic.usersFile
 * (fs.watch) and compares content, so a same-size, same-mtime rewrite is still seen. A change to the target
 * of a symlink that lives in another directory is not: no event ever reaches the watched directory.
 */
function hiddenUsersFile(password: string): { path: string; change(password: string): void } {
  const n = seq++;
  const watched = `${tmp.path}/watched-${n}`;
  const real = `${tmp.path}/real-${n}`;
  mkdirSync(watched);
  mkdirSync(real);
  writeFileSync(`${real}/users.yaml`, usersYaml(password));
  symlinkSync(`${real}/users.yaml`, `${watched}/users.yaml`);
  return {
    path: `${watched}/users.yaml`,
    // Written next to the target and renamed over it: readers never see a half-written file.
    change(pw) {
      writeFileSync(`${real}/users.yaml.tmp`, usersYaml(pw));
      renameSync(`${real}/users.yaml.tmp`, `${real}/users.yaml`);
    },
  };
}

/** Each promgate gets its config in a directory of its own, away from the users file. */
function configPath(): string {
  const dir = `${tmp.path}/config-${seq++}`;
  mkdirSync(dir);
  return `${dir}/promgate.yaml`;
}

const config = (users: string, extra = '') => `
server:
  host: 127.0.0.1
  port: {{PORT}}
  shutdownTimeout: 2s
${extra}
routes:
  - upstream: { url: "${stack.prom.base}" }
    unprotectedPaths: [/-/healthy, /api/v1/status/buildinfo]
auth:
  basic: { usersFile: "${users}" }
`;

const basic = (u: string, p: string) => ({ authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });

async function status(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await request(base + path, { headers });
  await r.body.dump();
  return r.statusCode;
}

const query = (p: PromgateProc, password: string) => status(p.url, '/api/v1/query?query=up', basic('alice', password));

test('SIGHUP alone reloads a users file whose change the watcher did not see', async () => {
  const users = hiddenUsersFile('old-pass-1');
  const p = await pg({ configYaml: config(users.path), configPath: configPath() });
  assert.equal(await query(p, 'old-pass-1'), 200);
  assert.equal(await query(p, 'new-pass-1'), 401);

  users.change('new-pass-1');
  // Precondition of this test: well past the watcher's 200 ms debounce, nothing has reloaded the file.
  await sleep(1500);
  assert.equal(await query(p, 'old-pass-1'), 200, 'the watcher saw the change; this test no longer isolates SIGHUP');
  assert.equal(await query(p, 'new-pass-1'), 401, 'the watcher saw the change; this test no longer isolates SIGHUP');

  assert.ok(p.proc.kill('SIGHUP'));
  await waitFor(async () => (await query(p, 'new-pass-1')) === 200, { what: 'the new password after SIGHUP', timeoutMs: 10_000, procs: [p.proc] });
  assert.equal(await query(p, 'old-pass-1'), 401, 'the old password stops working');
  assert.equal(p.proc.exited(), false);
});

test('server.reloadInterval alone reloads a users file whose change the watcher did not see', async () => {
  const users = hiddenUsersFile('old-pass-2');
  const ticking = await pg({ configYaml: config(users.path, '  reloadInterval: 1s'), configPath: configPath() });
  // The same users file behind a gateway without the interval: the control that the watcher stays blind.
  const control = await pg({ configYaml: config(users.path), configPath: configPath() });
  for (const p of [ticking, control]) assert.equal(await query(p, 'old-pass-2'), 200);

  users.change('new-pass-2');
  await waitFor(async () => (await query(ticking, 'new-pass-2')) === 200, { what: 'the new password via the reload interval', timeoutMs: 15_000, procs: [ticking.proc] });
  assert.equal(await query(ticking, 'old-pass-2'), 401, 'the old password stops working');
  assert.equal(await query(control, 'old-pass-2'), 200, 'without the interval nothing reloaded: it was the interval, not the watcher');
  assert.equal(await query(control, 'new-pass-2'), 401);
});

/** node:http sends the path as written; undici and fetch would resolve the dot segments first. */
function raw(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('unprotected endpoints are exact paths: neighbours, prefixes and dot-segment tricks still need credentials', async () => {
  const users = hiddenUsersFile('pw-3');
  const p = await pg({ configYaml: config(users.path), configPath: configPath() });

  const info = await request(`${p.url}/api/v1/status/buildinfo`);
  assert.equal(info.statusCode, 200);
  const j = (await info.body.json()) as { status: string; data: { version: string } };
  assert.equal(j.status, 'success', 'served by Prometheus without credentials');
  assert.ok(j.data.version);
  assert.equal(await status(p.url, '/api/v1/status/buildinfo?x'), 200, 'a query string does not change the path');
  assert.equal(await status(p.url, '/api/v1/status/buildinfo?x=1&y'), 200);

  for (const path of ['/api/v1/status/buildinfo/x', '/api/v1/status/buildinfoX', '/api/v1/status/buildinfo/', '/api/v1/status/buildinfo;x', '/api/v1/status/flags', '/api/v1/query?query=up']) {
    const r = await request(p.url + path);
    const body = (await r.body.json()) as { code?: string };
    assert.equal(r.statusCode, 401, `${path} needs credentials`);
    assert.equal(body.code, 'PG_AUTHN_REQUIRED', path);
    assert.match(String(r.headers['www-authenticate']), /^Basic /, path);
  }

  // Dot segments behind an unprotected prefix never reach the upstream: refused outright (400), like any
  // request target whose meaning could differ between promgate and Prometheus.
  for (const path of ['/-/healthy/../api/v1/query?query=up', '/api/v1/status/buildinfo/../../query?query=up', '/-/healthy/%2e%2e/api/v1/query?query=up', '/api/v1/status/buildinfo/..%2f..%2fquery?query=up']) {
    const r = await raw(p.url, path);
    assert.equal(r.status, 400, `${path}: got ${r.status} ${r.body}`);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PG_BAD_REQUEST', path);
    assert.doesNotMatch(r.body, /"resultType"/, `${path} must not return query data`);
  }
  assert.match((await raw(p.url, '/-/healthy/../api/v1/query?query=up')).body, /dot segments are not allowed/);

  // With credentials the same query works, so the 401s above are about authentication, not routing.
  assert.equal(await query(p, 'pw-3'), 200);
});
