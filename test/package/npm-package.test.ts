// The npm package: `npm pack`, install into an empty directory without dev dependencies, run the CLI and the typed API from there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import {
  makeTempDir,
  REPO_ROOT,
  freePort,
  spawnProc,
  waitFor,
  httpStatus,
  type TempDir,
} from '../e2e/harness/index.js';

const npm = (args: string[], cwd: string): SpawnSyncReturns<string> =>
  spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });

let tmp: TempDir;
let app: string;
let tgz: string;
let files: string[] = [];
let upstream: Server;
let upstreamUrl = '';

before(async () => {
  tmp = makeTempDir('npm-package');
  // The suite runner has just built dist/; packing must not depend on dev tools, so scripts are skipped here.
  const pack = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.path], REPO_ROOT);
  assert.equal(pack.status, 0, pack.stderr);
  const info = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  tgz = join(tmp.path, info.filename);
  files = info.files.map((f) => f.path);
  app = tmp.file('app');
  spawnSync('mkdir', [app]);
  // An empty directory, production dependencies only, from the local npm cache where it has them.
  const install = npm(['install', tgz, '--omit=dev', '--prefer-offline', '--no-package-lock'], app);
  assert.equal(install.status, 0, install.stderr);
  upstream = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: 'success',
        data: {
          resultType: 'vector',
          result: [],
          query: new URL(req.url ?? '/', 'http://x').searchParams.get('query'),
        },
      }),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const a = upstream.address();
  upstreamUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

after(() => {
  upstream?.closeAllConnections();
  upstream?.close();
  tmp?.remove();
});

test('the tarball holds the built code, the examples and the README, and no sources, tests or maps', () => {
  for (const f of [
    'package.json',
    'README.md',
    'dist/cli/main.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/healthcheck.js',
    'examples/quickstart.yaml',
  ])
    assert.ok(files.includes(f), `${f} packed`);
  for (const f of files)
    assert.ok(
      !/^(src|test|bench|scripts|deploy|docs)\/|\.map$|\.ts$(?<!\.d\.ts$)|^\.|tsconfig/.test(f),
      `${f} should not be packed`,
    );
});

test('package.json: bin, exports, types and engines point at files that exist after install', () => {
  const dir = join(app, 'node_modules', 'promgate');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    types: string;
    main: string;
    engines: { node: string };
    exports: Record<string, { types: string; default: string } | string>;
  };
  assert.ok(existsSync(join(dir, pkg.bin.promgate!)), 'bin');
  assert.ok(existsSync(join(dir, pkg.types)) && existsSync(join(dir, pkg.main)), 'types and main');
  const root = pkg.exports['.'] as { types: string; default: string };
  assert.ok(existsSync(join(dir, root.types)) && existsSync(join(dir, root.default)), 'exports');
  assert.equal(pkg.engines.node, '>=20.19.0');
  assert.ok(!existsSync(join(app, 'node_modules', 'typescript')), 'no dev dependency installed');
  assert.ok(!existsSync(join(app, 'node_modules', 'tsx')), 'no dev dependency installed');
});

test('npx promgate --help and promgate check work from the installed package', () => {
  const help = spawnSync('npx', ['--no-install', 'promgate', '--help'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(help.status, 0, help.stderr);
  for (const c of ['run', 'demo', 'check']) assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
  writeFileSync(
    join(app, 'users.yaml'),
    'users:\n  - username: alice\n    password: $2b$10$plzz7.NWkjA9yMkY6f3uDuxDg49f.7i09SbVEKQW9Vw7VdDIm4iKm\n    namespace: team-a\n',
  );
  writeFileSync(
    join(app, 'promgate.yaml'),
    `server: { host: 127.0.0.1, port: 0 }\nroutes:\n  - upstream: { url: "${upstreamUrl}" }\nauth:\n  basic: { usersFile: users.yaml }\n`,
  );
  const check = spawnSync('npx', ['--no-install', 'promgate', 'check', '--config', 'promgate.yaml'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /promgate\.yaml: OK/);
  writeFileSync(join(app, 'bad.yaml'), 'server: { prot: 1 }\n');
  const bad = spawnSync('npx', ['--no-install', 'promgate', 'check', '--config', 'bad.yaml'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /unknown key "prot"/);
});

test('promgate run from the installed bin serves until SIGTERM', async () => {
  const port = await freePort();
  const proc = spawnProc(
    'installed-promgate',
    join(app, 'node_modules', '.bin', 'promgate'),
    ['run', '--config', 'promgate.yaml'],
    { cwd: app, env: { PROMGATE_SERVER__PORT: String(port) } },
  );
  try {
    await waitFor(async () => (await httpStatus(`http://127.0.0.1:${port}/-/ready`)) === 200, {
      what: 'installed promgate ready',
      procs: [proc],
    });
    const r = await request(`http://127.0.0.1:${port}/api/v1/query?query=up`, {
      headers: { authorization: `Basic ${Buffer.from('alice:alice-password').toString('base64')}` },
    });
    assert.equal(((await r.body.json()) as { data: { query: string } }).data.query, 'up{namespace="team-a"}');
    proc.kill('SIGTERM');
    assert.equal((await proc.waitExit()).code, 0);
  } finally {
    await proc.stop('SIGKILL');
  }
});

test('the typed API: a TypeScript consumer type-checks against the installed package, and runs', async () => {
  const consumer = `import { startGateway, validateConfig, ConfigError, CODES, type ConfigInput, type ErrorCode } from 'promgate';
const cfg: ConfigInput = { server: { host: '127.0.0.1', port: 0, logLevel: 'silent' }, routes: [{ upstream: { url: process.argv[2]! } }], auth: { anonymous: true }, tenants: { rules: [{ match: { users: ['anonymous'] }, labels: { namespace: 'team-a' } }] } };
const code: ErrorCode = 'PG_AUTHN_REQUIRED';
const gw = await startGateway({ config: cfg });
const r = await fetch(gw.url + '/api/v1/query?query=up');
const body = (await r.json()) as { data: { query: string } };
try { validateConfig({ server: { port: -1 } }); } catch (e) { if (!(e instanceof ConfigError)) throw e; }
await gw.close();
console.log(JSON.stringify({ query: body.data.query, status: CODES[code].status }));
`;
  writeFileSync(join(app, 'consumer.mts'), consumer);
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const tscArgs = [
    '--strict',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
    '--types',
    'node',
    '--typeRoots',
    join(REPO_ROOT, 'node_modules', '@types'),
    '--skipLibCheck',
  ];
  // Compiling it to consumer.mjs type-checks it against the installed package's declarations.
  const typed = spawnSync(process.execPath, [tsc, ...tscArgs, '--outDir', '.', 'consumer.mts'], {
    cwd: app,
    encoding: 'utf8',
  });
  assert.equal(typed.status, 0, typed.stdout + typed.stderr);
  // The types are real: a wrong field type is a compile error, not \`any\`.
  writeFileSync(
    join(app, 'wrong.mts'),
    `import { validateConfig } from 'promgate';\nvalidateConfig({ server: { port: 'nine' } });\n`,
  );
  const wrong = spawnSync(process.execPath, [tsc, ...tscArgs, '--noEmit', 'wrong.mts'], { cwd: app, encoding: 'utf8' });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stdout, /wrong\.mts.*(not assignable|No overload)/);
  // Run asynchronously: the stand-in upstream lives in this process and must keep answering.
  const ran = spawnProc('consumer', process.execPath, ['consumer.mjs', upstreamUrl], { cwd: app });
  assert.equal((await ran.waitExit()).code, 0, ran.logs());
  const last = ran
    .stdoutLines()
    .filter((l) => l.startsWith('{"query"'))
    .pop();
  assert.ok(last, ran.logs());
  assert.deepEqual(JSON.parse(last), { query: 'up{namespace="team-a"}', status: 401 });
});
