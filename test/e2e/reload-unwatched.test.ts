// Reloads the file watcher cannot see: SIGHUP alone and server.reloadInterval alone reload a changed users file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startPromgate, makeTempDir, waitFor, sleep, type PromgateProc } from './harness/index.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';

/** Only the status of an authenticated query matters here, so a stub stands in for Prometheus. */
let upstream: Stub;
const tmp = makeTempDir('reload-unwatched');
const procs: PromgateProc[] = [];
let seq = 0;

before(async () => {
  upstream = await startStub(echoJson);
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await upstream?.close();
  tmp.remove();
});

async function pg(o: Parameters<typeof startPromgate>[0]): Promise<PromgateProc> {
  const p = await startPromgate(o);
  procs.push(p);
  return p;
}

const usersYaml = (password: string) =>
  `users:\n  - username: alice\n    password: ${password}\n    namespace: team-a\n`;

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
  - upstream: { url: "${upstream.url}" }
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
  // Precondition of this test: well past the watcher's 200 ms debounce, nothing has reloaded the file. A real
  // interval that must pass in the spawned gateway: there is no event for a change nobody saw.
  await sleep(1500);
  assert.equal(await query(p, 'old-pass-1'), 200, 'the watcher saw the change; this test no longer isolates SIGHUP');
  assert.equal(await query(p, 'new-pass-1'), 401, 'the watcher saw the change; this test no longer isolates SIGHUP');

  assert.ok(p.proc.kill('SIGHUP'));
  await waitFor(async () => (await query(p, 'new-pass-1')) === 200, {
    what: 'the new password after SIGHUP',
    timeoutMs: 10_000,
    procs: [p.proc],
  });
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
  await waitFor(async () => (await query(ticking, 'new-pass-2')) === 200, {
    what: 'the new password via the reload interval',
    timeoutMs: 15_000,
    procs: [ticking.proc],
  });
  assert.equal(await query(ticking, 'old-pass-2'), 401, 'the old password stops working');
  assert.equal(
    await query(control, 'old-pass-2'),
    200,
    'without the interval nothing reloaded: it was the interval, not the watcher',
  );
  assert.equal(await query(control, 'new-pass-2'), 401);
});
