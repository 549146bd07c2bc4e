// The Azure prometheus-proxy's flags: its README invocation starts promgate with the same behaviour (anonymous in, Entra ID out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import {
  AZURE_PROXY_DEFAULT_PORT,
  azureProxyOverrides,
  parseAzureProxyOptions,
  parseLogLevel,
} from '../../src/cli/azure-proxy-flags.js';
import { PROMGATE_ENTRY, REPO_ROOT, startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { makeCa } from '../e2e/harness/certs.js';
import { startEntra, startBearerUpstream } from '../upstream/fixtures/entra.js';

const TENANT = 'b1b2c3d4-0000-4000-8000-00000000aaaa';
const CLIENT = 'c1c2c3c4-0000-4000-8000-00000000bbbb';
const SECRET = 'azure-proxy-flag-secret~0123456789';

test("the flags map onto one anonymous, unrestricted route signed with Entra ID, on the proxy's port 9090 by default", () => {
  const o = parseAzureProxyOptions([
    '--azure-tenant-id',
    TENANT,
    `--azure-client-id=${CLIENT}`,
    '--azure-client-secret',
    SECRET,
    '--prometheus-url',
    'https://ws.eastus.prometheus.monitor.azure.com',
    '--log-level',
    'INFO',
  ]);
  assert.deepEqual(o.errors, []);
  assert.equal(o.given, true);
  assert.deepEqual(o.rest, ['--log-level', 'INFO'], '--log-level (and --port) are left to the shared parser');
  const cfg = loadConfig({ overrides: azureProxyOverrides(o, false, false), env: {} });
  assert.equal(cfg.server.port, AZURE_PROXY_DEFAULT_PORT);
  assert.equal(AZURE_PROXY_DEFAULT_PORT, 9090);
  assert.equal(cfg.auth.anonymous, true);
  const r = cfg.routes[0]!;
  assert.equal(r.prefix, '/');
  assert.deepEqual(r.authMethods, ['anonymous']);
  assert.deepEqual(r.upstream.auth, {
    type: 'azure',
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: SECRET,
    scope: 'https://prometheus.monitor.azure.com/.default',
    credential: 'auto',
    disableInstanceDiscovery: false,
    credentialTimeout: 10_000,
  });
  assert.equal(cfg.tenants.rules[0]!.unrestricted, true);
  assert.deepEqual(cfg.tenants.rules[0]!.match.users, ['anonymous']);
  // An explicit --port wins; with a config file only the upstream is set.
  assert.equal(loadConfig({ overrides: azureProxyOverrides(o, false, true), env: {} }).server.port, 9092);
  assert.deepEqual(azureProxyOverrides(o, true, false), {
    routes: [
      {
        upstream: {
          url: 'https://ws.eastus.prometheus.monitor.azure.com',
          auth: { type: 'azure', tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET },
        },
      },
    ],
  });
  // Without a secret: workload identity (the README's second mode), tenant and client from the flags.
  const wi = parseAzureProxyOptions([
    '--azure-tenant-id',
    TENANT,
    '--azure-client-id',
    CLIENT,
    '--prometheus-url',
    'https://ws',
  ]);
  const wcfg = loadConfig({
    overrides: azureProxyOverrides(wi, false, false),
    env: { AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token' },
  });
  assert.equal(wcfg.routes[0]!.upstream.auth.type, 'azure');
  for (const [v, want] of [
    ['INFO', 'info'],
    ['DEBUG', 'debug'],
    ['WARN', 'warn'],
    ['warning', 'warn'],
    ['Error', 'error'],
  ] as const)
    assert.equal(parseLogLevel(v), want);
  assert.throws(() => parseLogLevel('LOUD'), /unknown level "LOUD"/);
  assert.deepEqual(parseAzureProxyOptions(['--azure-client-id', CLIENT]).errors, [
    '--prometheus-url is required (the URL of the Azure Monitor workspace query endpoint)',
  ]);
  assert.equal(
    parseAzureProxyOptions(['--port', '1']).given,
    false,
    'the shared --port alone does not switch to this family',
  );
});

test('the README invocation: an unauthenticated in-cluster caller gets the raw answer, signed with a client-secret token', async (t) => {
  const dir = makeTempDir('azure-flags');
  t.after(() => dir.remove());
  const ca = makeCa(dir.path);
  const srv = ca.issue('entra', 'server');
  const e = await startEntra({
    key: srv.key,
    cert: srv.cert,
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: SECRET,
  });
  t.after(() => e.close());
  const up = await startBearerUpstream((tok) => e.issued.some((i) => i.token === tok));
  t.after(() => up.close());
  const pg = await startPromgate({
    args: [
      '--azure-tenant-id',
      TENANT,
      '--azure-client-id',
      CLIENT,
      '--azure-client-secret',
      SECRET,
      '--prometheus-url',
      up.url,
      '--port',
      '{{PORT}}',
      '--log-level',
      'INFO',
    ],
    // The authority is local (AZURE_AUTHORITY_HOST, trusted through the test CA); instance discovery would ask the public cloud.
    env: {
      NODE_EXTRA_CA_CERTS: ca.caFile,
      AZURE_AUTHORITY_HOST: e.url,
      PROMGATE_ROUTES__0__UPSTREAM__AUTH__DISABLE_INSTANCE_DISCOVERY: 'true',
      AZURE_TENANT_ID: '',
      AZURE_CLIENT_ID: '',
      AZURE_FEDERATED_TOKEN_FILE: '',
    },
  });
  t.after(() => pg.stop());
  for (const path of ['/api/v1/query?query=up', '/api/v1/status/buildinfo', '/api/v1/label/__name__/values']) {
    const r = await request(`${pg.url}${path}`);
    assert.equal(r.statusCode, 200, path);
    assert.equal(
      await r.body.text(),
      '{"status":"success","data":{"resultType":"vector","result":[]}}',
      'the raw upstream answer',
    );
  }
  assert.equal(up.seen.at(-1), `Bearer ${e.issued[0]!.token}`);
  assert.equal(e.calls[0]!.form.get('client_secret'), SECRET);
  // The harness's logs() starts with the command line itself; promgate's own output is stdout and stderr.
  const output = [...pg.proc.stdoutLines(), ...pg.proc.stderrLines()].join('\n');
  assert.ok(!output.includes(SECRET), 'the secret from the command line is not logged');
});

test('start-up refuses a client secret without a tenant id, naming the missing piece', () => {
  const r = spawnSync(
    process.execPath,
    [
      PROMGATE_ENTRY,
      'run',
      '--azure-client-id',
      CLIENT,
      '--azure-client-secret',
      SECRET,
      '--prometheus-url',
      'http://127.0.0.1:9',
    ],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, AZURE_TENANT_ID: '' },
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /routes\[0\]\.upstream\.auth\.tenantId: a client secret needs the tenant id/);
  assert.ok(!r.stderr.includes(SECRET));
});
