// prometheus-multi-tenant-proxy's PROM_PROXY_* variables and `run` flags through the running CLI: they alone configure
// the gateway, and a flag beats its variable. The mapping itself: test/cli/k8spin-env.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startPromgate } from './harness/promgate.js';
import { freePort, isPortOpen } from './harness/ports.js';
import { makeTempDir } from './harness/cleanup.js';
import { startStub, echoJson } from '../helpers/upstream-stub.js';

test('CLI: PROM_PROXY_* alone configure the running gateway; PROM_PROXY_USE_AWS=false starts it unsigned', async (t) => {
  const stub = await startStub(echoJson);
  t.after(() => stub.close());
  const dir = makeTempDir('k8spin-env');
  t.after(() => dir.remove());
  const users = dir.file('users.yaml');
  writeFileSync(users, 'users:\n  - username: env-user\n    password: env-pass\n    namespace: team-env\n');
  const port = await freePort();
  const pg = await startPromgate({
    port,
    env: {
      PROM_PROXY_PORT: String(port),
      PROM_PROXY_PROMETHEUS_ENDPOINT: stub.url,
      PROM_PROXY_AUTH_CONFIG: users,
      PROM_PROXY_UNPROTECTED_ENDPOINTS: '/-/healthy,/api/v1/status/buildinfo',
      PROM_PROXY_PROTECTED_ENDPOINTS: '',
      PROM_PROXY_USE_AWS: 'false',
    },
  });
  t.after(() => pg.stop());
  const info = await request(`${pg.url}/api/v1/status/buildinfo`);
  assert.equal(info.statusCode, 200, 'unprotected by PROM_PROXY_UNPROTECTED_ENDPOINTS');
  await info.body.dump();
  const anon = await request(`${pg.url}/api/v1/labels`);
  assert.equal(anon.statusCode, 401, 'users from PROM_PROXY_AUTH_CONFIG are required');
  await anon.body.dump();
  const auth = 'Basic ' + Buffer.from('env-user:env-pass').toString('base64');
  const labels = await request(`${pg.url}/api/v1/labels`, { headers: { authorization: auth } });
  assert.equal(labels.statusCode, 200, 'PROM_PROXY_PROTECTED_ENDPOINTS="" allows every enforced endpoint');
  await labels.body.dump();
  const last = stub.received.at(-1)!;
  assert.match(last.url, /^\/api\/v1\/labels\?/, 'forwarded to PROM_PROXY_PROMETHEUS_ENDPOINT');
  assert.match(decodeURIComponent(last.url), /namespace="team-env"/);
  assert.doesNotMatch(String(last.headers.authorization ?? ''), /AWS4-HMAC-SHA256/, 'not signed for AWS');
});

test('CLI: --port beats PROM_PROXY_PORT', async (t) => {
  const stub = await startStub(echoJson);
  t.after(() => stub.close());
  const [envPort, flagPort] = [await freePort(), await freePort()];
  const dir = makeTempDir('k8spin-port');
  t.after(() => dir.remove());
  const users = dir.file('users.yaml');
  writeFileSync(users, 'users:\n  - username: u\n    password: p\n    namespace: n\n');
  const pg = await startPromgate({
    port: flagPort,
    args: ['--port', String(flagPort), '--prometheus-endpoint', stub.url, '--auth-config', users],
    env: { PROM_PROXY_PORT: String(envPort) },
  });
  t.after(() => pg.stop());
  assert.equal(await isPortOpen(flagPort), true);
  assert.equal(await isPortOpen(envPort), false, 'nothing listens on the PROM_PROXY_PORT port');
});
