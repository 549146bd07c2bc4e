// Issue 15.2: a config or users file deleted, truncated or replaced by garbage while promgate runs. The last good
// version keeps serving; /-/ready (still 200: a bad edit must not take every replica out) and
// promgate_config_last_reload_successful say so; a good file again is picked up without a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import bcrypt from 'bcryptjs';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { promgateBuilt, startPromgate, type PromgateInstance } from '../e2e/harness/promgate.js';
import { makeTempDir, type TempDir } from '../e2e/harness/cleanup.js';
import { waitFor } from '../helpers/wait.js';

const skip = promgateBuilt() ? false : 'needs npm run build (dist/cli/main.js)';
let up: Stub;
let gw: PromgateInstance;
let dir: TempDir;
let configFile: string;
let usersFile: string;
const hash = bcrypt.hashSync('pw', 4);
const basic = (u: string) => ({ authorization: `Basic ${Buffer.from(`${u}:pw`).toString('base64')}` });

const config = (ns: string) => `
server: { host: 127.0.0.1, port: ${gw?.port ?? '{{PORT}}'}, readyCheckInterval: 1h, logLevel: info }
routes: [ { name: r, prefix: /, upstream: { url: "${up.url}" } } ]
auth: { basic: { usersFile: "${usersFile}" } }
tenants: { rules: [ { match: { users: [alice, bob] }, labels: { namespace: ${ns} } } ] }
`;
const users = (...names: string[]) =>
  `users:\n${names.map((n) => `  - username: ${n}\n    password: "${hash}"\n`).join('')}`;

before(async () => {
  if (skip) return;
  up = await startStub(echoJson);
  dir = makeTempDir('file-faults');
  configFile = dir.file('promgate.yaml');
  usersFile = dir.file('users.yaml');
  writeFileSync(usersFile, users('alice'));
  gw = await startPromgate({ configYaml: config('team-a'), configPath: configFile });
});

after(async () => {
  await gw?.stop();
  await up?.close();
  dir?.remove();
});

async function metrics(): Promise<string> {
  return (await request(`${gw.url}/metrics`)).body.text();
}
const counter = async (source: string, result: string) =>
  Number(
    new RegExp(
      `promgate_config_reloads_total\\{source="${source.replace(/\./g, '\\.')}",result="${result}"\\} (\\d+)`,
    ).exec(await metrics())?.[1] ?? 0,
  );
const lastOk = async (source: string) =>
  new RegExp(`promgate_config_last_reload_successful\\{source="${source.replace(/\./g, '\\.')}"\\} (\\d)`).exec(
    await metrics(),
  )?.[1];
async function ready(): Promise<{ status: number; text: string }> {
  const r = await request(`${gw.url}/-/ready`);
  return { status: r.statusCode, text: await r.body.text() };
}
/** The tenant matcher of a query sent now as `user`. */
async function tenantOf(user: string): Promise<string> {
  const r = await request(`${gw.url}/api/v1/query?query=up`, { headers: basic(user) });
  const body = await r.body.text();
  assert.equal(r.statusCode, 200, body);
  return new URL(up.received.at(-1)!.url, 'http://x').searchParams.get('query') ?? '';
}

async function refusedOnce(source: string, change: () => void): Promise<void> {
  const before = await counter(source, 'failure');
  change();
  await waitFor(async () => (await counter(source, 'failure')) > before, {
    what: `a refused reload of ${source}`,
    timeoutMs: 10_000,
    intervalMs: 25,
    procs: [gw.proc],
  });
}

async function acceptedOnce(source: string, change: () => void): Promise<void> {
  const before = await counter(source, 'success');
  change();
  await waitFor(async () => (await counter(source, 'success')) > before, {
    what: `a reload of ${source}`,
    timeoutMs: 10_000,
    intervalMs: 25,
    procs: [gw.proc],
  });
}

test(
  'the config file deleted, truncated, or garbage: the last good config serves, /-/ready and metrics say so',
  { skip },
  async () => {
    assert.equal(await tenantOf('alice'), 'up{namespace="team-a"}');
    const good = readFileSync(configFile, 'utf8');
    const faults: [string, () => void][] = [
      ['deleted', () => rmSync(configFile)],
      ['truncated', () => writeFileSync(configFile, good.slice(0, Math.floor(good.length * 0.6)))],
      ['emptied', () => writeFileSync(configFile, '')],
      ['garbage', () => writeFileSync(configFile, Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x5b, 0x3a, 0x0a, 0x09]))],
    ];
    for (const [what, fault] of faults) {
      await refusedOnce('config', fault);
      assert.equal(await tenantOf('alice'), 'up{namespace="team-a"}', `${what}: the last good config serves`);
      const r = await ready();
      assert.equal(r.status, 200, `${what}: still ready (the last good config serves)`);
      assert.match(r.text, /reload config: WARNING last reload refused/, what);
      assert.equal(await lastOk('config'), '0', what);
    }
    // A good file again: picked up without a restart, and the warning goes.
    await acceptedOnce('config', () => writeFileSync(configFile, config('team-b')));
    assert.equal(await tenantOf('alice'), 'up{namespace="team-b"}');
    assert.doesNotMatch((await ready()).text, /WARNING/);
    assert.equal(await lastOk('config'), '1');
  },
);

test(
  'the users file deleted, truncated, or garbage: the last good users keep signing in; a good file is picked up',
  { skip },
  async () => {
    const source = 'auth.basic.usersFile';
    const good = readFileSync(usersFile, 'utf8');
    const faults: [string, () => void][] = [
      ['deleted', () => rmSync(usersFile)],
      ['truncated mid-entry', () => writeFileSync(usersFile, good.slice(0, good.indexOf('password') + 4))],
      ['emptied', () => writeFileSync(usersFile, '')],
      ['garbage', () => writeFileSync(usersFile, 'users: [{{{\n\u0000')],
    ];
    for (const [what, fault] of faults) {
      await refusedOnce(source, fault);
      assert.match(await tenantOf('alice'), /namespace=/, `${what}: alice still signs in`);
      const r = await ready();
      assert.equal(r.status, 200);
      assert.match(r.text, new RegExp(`reload ${source.replace(/\./g, '\\.')}: WARNING`), what);
      assert.equal(await lastOk(source), '0');
    }
    await acceptedOnce(source, () => writeFileSync(usersFile, users('alice', 'bob')));
    assert.match(await tenantOf('bob'), /namespace=/);
    assert.doesNotMatch((await ready()).text, /WARNING/);
  },
);
