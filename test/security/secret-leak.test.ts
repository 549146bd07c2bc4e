// Every secret promgate is given (AWS keys and session token, Entra ID client secret, bearer token, basic password, users) is absent from its logs and answers, even when backends echo them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { makeCa } from '../e2e/harness/certs.js';
import { waitFor } from '../e2e/harness/wait.js';
import { startSigV4Upstream } from '../upstream/fixtures/aws.js';
import { startEntra } from '../upstream/fixtures/entra.js';

const SECRETS = {
  awsSecret: 'leakTestAwsSecretAccessKey/0123456789ABCDEFG',
  awsSession: 'IQoJleakTestSessionToken0123456789abcdefghijklmnop',
  azureSecret: 'leak~test~azure~client~secret~0123456789',
  bearer: 'leak-test-bearer-token-0123456789abcdef',
  basicPassword: 'leak-test-upstream-password-42',
  userPassword: 'leak-test-user-password-17',
};

test('no secret appears in stdout, stderr, error answers, /-/ready or /metrics', async (t) => {
  const dir = makeTempDir('leak');
  t.after(() => dir.remove());
  // AWS: the service holds another secret for the key, so it refuses and echoes its canonical request (with the session token).
  const aws = await startSigV4Upstream('us-east-1');
  t.after(() => aws.close());
  aws.keys.set('ASIALEAKTEST00000001', { secretAccessKey: 'another-secret', sessionToken: SECRETS.awsSession });
  // Entra ID refuses the client secret.
  const ca = makeCa(dir.path);
  const srv = ca.issue('entra', 'server');
  const entra = await startEntra({
    key: srv.key,
    cert: srv.cert,
    tenantId: 't',
    clientId: 'c',
    clientSecret: 'not-this-one',
  });
  t.after(() => entra.close());
  // A backend that refuses and repeats the Authorization it got, in a header and in its body.
  const echo = createServer((req, res) => {
    const a = String(req.headers.authorization ?? '');
    res
      .writeHead(401, {
        'www-authenticate': `Bearer realm="x", error="invalid_token", got="${a}"`,
        'content-type': 'text/plain',
      })
      .end(`refused credentials: ${a}`);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => echo.close(() => r())));
  const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  writeFileSync(dir.file('token'), SECRETS.bearer + '\n');
  writeFileSync(
    dir.file('users.yaml'),
    `users:\n  - username: carol\n    password: ${SECRETS.userPassword}\n    namespace: team-c\n`,
  );

  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}}, logLevel: debug }
routes:
  - prefix: /aws
    upstream: { url: "${aws.url}/workspaces/ws-1", auth: { type: aws, region: us-east-1 } }
  - prefix: /azure
    upstream: { url: "${echoUrl}", auth: { type: azure, tenantId: t, clientId: c, clientSecret: "${SECRETS.azureSecret}", authorityHost: "${entra.url}", disableInstanceDiscovery: true } }
  - prefix: /bearer
    upstream: { url: "${echoUrl}", auth: { type: bearer, tokenFile: ${dir.file('token')} } }
  - prefix: /basic
    upstream: { url: "${echoUrl}", auth: { type: basic, username: promgate, password: "${SECRETS.basicPassword}" } }
auth:
  basic: { usersFile: ${dir.file('users.yaml')} }
`,
    env: {
      NODE_EXTRA_CA_CERTS: ca.caFile,
      AWS_ACCESS_KEY_ID: 'ASIALEAKTEST00000001',
      AWS_SECRET_ACCESS_KEY: SECRETS.awsSecret,
      AWS_SESSION_TOKEN: SECRETS.awsSession,
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PROFILE: '',
    },
  });
  t.after(() => pg.stop());
  const user = { authorization: 'Basic ' + Buffer.from(`carol:${SECRETS.userPassword}`).toString('base64') };
  const answers: string[] = [];
  const call = async (path: string, headers: Record<string, string> = user, want?: number) => {
    const r = await request(`${pg.url}${path}`, { headers });
    const text = await r.body.text();
    answers.push(`${r.statusCode} ${JSON.stringify(r.headers)} ${text}`);
    if (want !== undefined) assert.equal(r.statusCode, want, `${path}: ${text}`);
    return text;
  };
  for (const route of ['/aws', '/bearer', '/basic'])
    assert.equal(JSON.parse(await call(`${route}/api/v1/query?query=up`, user, 502)).code, 'PG_UPSTREAM_AUTH_REFUSED');
  assert.equal(JSON.parse(await call('/azure/api/v1/query?query=up', user, 502)).code, 'PG_UPSTREAM_CREDENTIALS');
  await call(
    '/bearer/api/v1/query?query=up',
    { authorization: 'Basic ' + Buffer.from('carol:wrong').toString('base64') },
    401,
  );
  await call('/-/ready', {}, 503);
  await call('/metrics', {}, 200);
  // The refusals were logged with the backends' reasons (so the test looks where the secrets would be).
  const lines = await waitFor(
    () => {
      const l = pg.logLines().filter((x) => x.msg === 'upstream refused the signed request');
      return l.length >= 3 ? l : undefined;
    },
    { what: 'three refusal lines', procs: [pg.proc] },
  );
  assert.ok(
    lines.some((l) => /refused credentials: Bearer \[REDACTED\]/.test(String(l.reason))),
    'the bearer echo is redacted, not dropped',
  );
  assert.ok(
    lines.some((l) => /refused credentials: Basic \[REDACTED\]/.test(String(l.reason))),
    'the basic echo is redacted',
  );
  assert.ok(
    lines.some((l) => /Canonical String/.test(String(l.reason))),
    'the AWS echo is logged',
  );
  assert.ok(
    pg.logLines().some((l) => l.msg === 'Entra ID token unavailable' && /AADSTS7000215/.test(String(l.reason))),
  );
  await pg.stop();
  const output = [...pg.proc.stdoutLines(), ...pg.proc.stderrLines()].join('\n') + answers.join('\n');
  const basicB64 = Buffer.from(`promgate:${SECRETS.basicPassword}`).toString('base64');
  for (const [name, secret] of [...Object.entries(SECRETS), ['basicBase64', basicB64]]) {
    assert.ok(!output.includes(secret!), `${name} leaked`);
  }
});
