// Bad upstream credentials config: `promgate check` and start-up refuse it, naming the key that is missing or wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { PROMGATE_ENTRY, REPO_ROOT } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';

/** No AWS_* or AZURE_* from the machine running the tests may complete a config. */
const CLEAN = {
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
  AZURE_TENANT_ID: '',
  AZURE_CLIENT_ID: '',
  AZURE_FEDERATED_TOKEN_FILE: '',
  AZURE_AUTHORITY_HOST: '',
};

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [PROMGATE_ENTRY, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...CLEAN, ...env },
    timeout: 20_000,
  });
  return { code: r.status, err: r.stderr };
}

const doc = (upstream: string, extraAuth = '') =>
  `routes:\n  - upstream:\n${upstream}\nauth:\n  anonymous: true\n${extraAuth}tenants: { rules: [ { match: { users: [anonymous] }, unrestricted: true } ] }\n`;

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  const dir = makeTempDir('upauth');
  try {
    const f = dir.file('c.yaml');
    writeFileSync(f, yaml);
    loadConfig({ file: f, env });
    return '';
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  } finally {
    dir.remove();
  }
}

test('check and start-up refuse aws without a region, azure with a secret but no tenant id, unreadable certificate files', (t) => {
  const dir = makeTempDir('upauth-cli');
  t.after(() => dir.remove());
  const write = (name: string, text: string) => {
    writeFileSync(dir.file(name), text);
    return dir.file(name);
  };
  const aws = write(
    'aws.yaml',
    doc('      url: https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1\n      auth: { type: aws }'),
  );
  const r1 = cli(['check', '--config', aws]);
  assert.equal(r1.code, 1);
  assert.match(
    r1.err,
    /aws\.yaml:\d+: routes\[0\]\.upstream\.auth\.region: aws signing needs a region: set region, or AWS_REGION \/ AWS_DEFAULT_REGION/,
  );
  assert.equal(cli(['check', '--config', aws], { AWS_REGION: 'eu-west-1' }).code, 0, 'AWS_REGION completes it');
  assert.equal(
    cli(['check', '--config', aws], { AWS_DEFAULT_REGION: 'eu-west-1' }).code,
    0,
    'so does AWS_DEFAULT_REGION',
  );
  const started = cli(['run', '--config', aws]);
  assert.equal(started.code, 1, 'run refuses what check refuses');
  assert.match(started.err, /routes\[0\]\.upstream\.auth\.region/);

  const azure = write(
    'azure.yaml',
    doc(
      '      url: https://ws.eastus.prometheus.monitor.azure.com\n      auth: { type: azure, clientId: c, clientSecret: "s3cret-value" }',
    ),
  );
  const r2 = cli(['check', '--config', azure]);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /routes\[0\]\.upstream\.auth\.tenantId: a client secret needs the tenant id/);
  assert.ok(!r2.err.includes('s3cret-value'), 'the secret is not repeated in the error');
  assert.equal(cli(['check', '--config', azure], { AZURE_TENANT_ID: 't' }).code, 0, 'AZURE_TENANT_ID completes it');

  const missing = dir.file('no-such-cert.pem');
  const unreadable = write('key.pem', 'not really a key');
  chmodSync(unreadable, 0o000);
  const tls = write(
    'tls.yaml',
    doc(`      url: https://prometheus.internal:9090\n      tls: { certFile: ${missing}, keyFile: ${unreadable} }`),
  );
  const r3 = cli(['check', '--config', tls]);
  assert.equal(r3.code, 1);
  assert.match(r3.err, /routes\[0\]\.upstream\.tls\.certFile: cannot read ".*no-such-cert\.pem": ENOENT/);
  // root reads any file, so the mode bits only matter for other users.
  if (process.getuid?.() !== 0)
    assert.match(r3.err, /routes\[0\]\.upstream\.tls\.keyFile: cannot read ".*key\.pem": EACCES/);
});

test('other refusals: a half mTLS pair, passthrough with credentials of its own, a signer beside passAuthorizationHeader, workload identity without its file', () => {
  assert.match(
    problems(doc('      url: https://p:9090\n      tls: { caFile: /etc/hostname, certFile: /etc/hostname }')),
    /routes\[0\]\.upstream\.tls\.keyFile: mTLS needs both certFile and keyFile/,
  );
  assert.match(
    problems(doc('      url: http://p:9090\n      auth: { type: passthrough, token: abc }')),
    /routes\[0\]\.upstream\.auth\.token: unknown key "token" \(not valid with this type\)/,
  );
  const oidc =
    '  oidc: { issuerUrl: "https://idp.example.com", clientId: promgate, clientSecret: x, cookie: { secret: "0123456789abcdef0123456789abcdef" }, passAuthorizationHeader: true }\n';
  assert.match(
    problems(doc('      url: http://p:9090\n      auth: { type: bearer, token: abc }', oidc)),
    /routes\[0\]\.upstream\.auth\.type: auth\.oidc\.passAuthorizationHeader sends the caller's token in Authorization/,
  );
  assert.equal(
    problems(doc('      url: http://p:9090\n      auth: { type: passthrough }', oidc)),
    '',
    "passthrough is the way to send the caller's token",
  );
  assert.match(
    problems(
      doc(
        '      url: http://p:9090\n      auth: { type: azure, credential: workloadIdentity, tenantId: t, clientId: c }',
      ),
    ),
    /routes\[0\]\.upstream\.auth\.federatedTokenFile: workload identity needs the token file/,
  );
  assert.match(
    problems(
      doc(
        '      url: http://p:9090\n      auth: { type: azure, tenantId: t, clientId: c, clientSecret: s, authorityHost: "http://login.example" }',
      ),
    ),
    /routes\[0\]\.upstream\.auth\.authorityHost: must be an https:\/\/ URL/,
  );
  assert.equal(
    problems(doc('      url: http://p:9090\n      auth: { type: azure }')),
    '',
    'managed identity needs nothing more',
  );
});
