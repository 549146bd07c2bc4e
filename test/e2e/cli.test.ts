// The promgate command line: check, schema, version, hash-password, start-up failures, and the quickstart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { PROMGATE_ENTRY, REPO_ROOT, startPromgate } from './harness/promgate.js';
import { freePort } from './harness/ports.js';
import { makeTempDir } from './harness/cleanup.js';

function cli(args: string[], input?: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [PROMGATE_ENTRY, ...args], {
    cwd: REPO_ROOT,
    input,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('version and --help', () => {
  const v = cli(['version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^promgate \d+\.\d+\.\d+ \(node v\d+/);
  const h = cli(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['run', 'check', 'schema', 'hash-password', 'version']) assert.match(h.out, new RegExp(`\\b${c}\\b`));
  const r = cli(['run', '--help']);
  for (const f of [
    '--prometheus-endpoint',
    '--unprotected-endpoints',
    '--protected-endpoints',
    '--auth-type',
    '--auth-config',
    '--reload-interval',
    '--aws',
    '--port',
  ])
    assert.ok(r.out.includes(f), f);
});

test('schema prints a JSON Schema of the config', () => {
  const r = cli(['schema']);
  assert.equal(r.code, 0);
  const s = JSON.parse(r.out) as { properties: Record<string, { properties?: Record<string, unknown> }> };
  assert.ok(s.properties.routes && s.properties.server && s.properties.auth && s.properties.tenants);
  assert.ok(s.properties.server.properties?.port);
});

test('check accepts the bundled example and lists every problem of a bad config', () => {
  assert.equal(cli(['check', '--config', 'examples/quickstart.yaml']).code, 0);
  const dir = makeTempDir('cli');
  const bad = dir.file('bad.yaml');
  writeFileSync(
    bad,
    'server:\n  prot: 1\nroutes:\n  - upstream:\n      url: prometheus:9090\nauth: {anonymous: true}\n',
  );
  const r = cli(['check', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.yaml:2: server\.prot: unknown key "prot" \(did you mean "port"\?\)/);
  assert.match(r.err, /bad\.yaml:5: routes\[0\]\.upstream\.url: not a URL/);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  const missing = cli(['check', '--config', dir.file('nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.yaml: cannot read config file: ENOENT/);
  dir.remove();
});

test('check refuses a tenant regex that RE2 reads as matching "" ([][a-z]*), and names the key', () => {
  const dir = makeTempDir('cli');
  const bad = dir.file('regex.yaml');
  writeFileSync(
    bad,
    'routes:\n  - upstream: {url: "http://127.0.0.1:9090"}\nauth: {anonymous: true}\ntenants:\n  rules:\n    - regex: {namespace: "[][a-z]*"}\n',
  );
  const r = cli(['check', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /regex\.yaml:6: tenants\.rules\[0\]\.regex\.namespace: regex "\[\]\[a-z\]\*" matches the empty string/,
  );
  // The control: the same file with a pattern that cannot match "" passes.
  writeFileSync(
    bad,
    'routes:\n  - upstream: {url: "http://127.0.0.1:9090"}\nauth: {anonymous: true}\ntenants:\n  rules:\n    - regex: {namespace: "[][a-z]+"}\n',
  );
  assert.equal(cli(['check', '--config', bad]).code, 0);
  dir.remove();
});

test('hash-password prints a bcrypt hash that verifies', async () => {
  const r = cli(['hash-password'], 'hunter2\n');
  assert.equal(r.code, 0);
  assert.match(r.out.trim(), /^\$2[aby]\$12\$.{53}$/);
  const { default: bcrypt } = await import('bcryptjs');
  assert.ok(bcrypt.compareSync('hunter2', r.out.trim()));
  const a = cli(['hash-password', '--algorithm', 'argon2id'], 'hunter2');
  assert.match(a.out.trim(), /^\$argon2id\$/);
});

test('a port already in use is a clear error and a non-zero exit', async () => {
  const blocker = createServer();
  const port = await freePort();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  try {
    const pg = await startPromgate({
      configYaml: `server: {host: 127.0.0.1, port: ${port}}\nroutes: [{upstream: {url: "http://127.0.0.1:1"}}]\nauth: {anonymous: true}\n`,
      port,
      waitHealthy: false,
    });
    const exit = await pg.waitExit();
    assert.notEqual(exit.code, 0);
    assert.match(pg.logs(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.doesNotMatch(pg.logs(), /\n\s+at /, 'no stack trace');
  } finally {
    blocker.close();
  }
});

test('quickstart: with no Prometheus, /-/ready says so and API calls get a 502 naming the upstream', async () => {
  const closed = await freePort();
  const port = await freePort();
  const pg = await startPromgate({
    args: ['--config', 'examples/quickstart.yaml'],
    port,
    env: { PROMGATE_SERVER__PORT: String(port), PROMGATE_ROUTES__0__UPSTREAM__URL: `http://127.0.0.1:${closed}` },
  });
  try {
    const ready = await request(`${pg.url}/-/ready`);
    assert.equal(ready.statusCode, 503);
    assert.match(await ready.body.text(), /upstream prometheus \(http:\/\/127\.0\.0\.1:\d+\): NOT reachable/);
    const auth = 'Basic ' + Buffer.from('alice:alice-password').toString('base64');
    const q = await request(`${pg.url}/api/v1/query?query=up`, { headers: { authorization: auth } });
    assert.equal(q.statusCode, 502);
    const j = (await q.body.json()) as { errorType: string; error: string };
    assert.equal(j.errorType, 'unavailable');
    assert.match(j.error, /prometheus/);
    assert.equal(pg.proc.exited(), false, 'still running');
  } finally {
    await pg.stop();
  }
});

test('--metrics-port serves /metrics on its own port, with the tenant label; the main port then does not', async () => {
  const metricsPort = await freePort();
  const pg = await startPromgate({
    configYaml: `server: {host: 127.0.0.1, port: {{PORT}}}\nroutes: [{upstream: {url: "http://127.0.0.1:1"}}]\nauth: {anonymous: true}\ntenants: {rules: [{match: {users: [anonymous]}, labels: {namespace: team-a}}]}\n`,
    args: ['--metrics-port', String(metricsPort)],
  });
  try {
    await (await request(`${pg.url}/api/v1/query?query=up`)).body.dump();
    const m = await request(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(m.statusCode, 200);
    assert.match(
      await m.body.text(),
      /promgate_requests_total\{route="[^"]*",method="GET",code="502",tenant="\{namespace=\\"team-a\\"\}"\} 1/,
    );
    const main = await request(`${pg.url}/metrics`);
    assert.equal(main.statusCode, 404);
    await main.body.dump();
  } finally {
    await pg.stop();
  }
});
