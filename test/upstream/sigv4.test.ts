// SigV4 end to end: promgate (real process) signs the rewritten request; a local upstream verifies it with aws4, not @smithy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startPromgate, type PromgateInstance } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { waitFor } from '../e2e/harness/wait.js';
import {
  startSigV4Upstream,
  startFakeSts,
  signWithAws4,
  type SigV4Upstream,
  type FakeSts,
  type Verified,
} from './fixtures/aws.js';

const REGION = 'eu-west-1';
const WS = '/workspaces/ws-0f1e2d3c-aaaa-bbbb-cccc-000000000001';
const STATIC = { accessKeyId: 'AKIAPROMGATETEST0001', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSTATICKEY01' };

/** No shared config, profile or instance metadata from the machine running the tests. */
const ISOLATED = {
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_PROFILE: '',
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
  AWS_ROLE_ARN: '',
  AWS_WEB_IDENTITY_TOKEN_FILE: '',
  AWS_SESSION_TOKEN: '',
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
};

let up: SigV4Upstream;
let sts: FakeSts;
let pg: PromgateInstance;

const tenantRule = `auth: { anonymous: true }
tenants:
  rules:
    - match: { users: [anonymous] }
      labels: { namespace: team-a }
`;

before(async () => {
  up = await startSigV4Upstream(REGION);
  up.keys.set(STATIC.accessKeyId, { secretAccessKey: STATIC.secretAccessKey });
  // AssumeRole is signed with the static key (verified by aws4 as service sts); the role's keys are granted to the upstream.
  sts = await startFakeSts({
    callerKeys: new Map([[STATIC.accessKeyId, { secretAccessKey: STATIC.secretAccessKey }]]),
    grant: up.keys,
  });
  pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}}, maxBodyBytes: 4KiB, accessLog: false }
routes:
  - prefix: /
    upstream:
      url: ${up.url}${WS}
      auth: { type: aws, region: ${REGION} }
    unsafePassthroughPaths: [/api/v1/admin/tsdb/snapshot]
  - prefix: /assumed
    upstream:
      url: ${up.url}${WS}
      auth: { type: aws, region: ${REGION}, roleArn: "arn:aws:iam::123456789012:role/amp-query", roleSessionName: promgate-test }
${tenantRule}`,
    env: {
      ...ISOLATED,
      AWS_ACCESS_KEY_ID: STATIC.accessKeyId,
      AWS_SECRET_ACCESS_KEY: STATIC.secretAccessKey,
      AWS_ENDPOINT_URL_STS: sts.url,
    },
  });
});

after(async () => {
  await pg?.stop();
  await sts?.close();
  await up?.close();
});

/** The last request that reached the upstream for an API path (readiness probes are unsigned and skipped). */
function lastApi(u: SigV4Upstream = up): Verified {
  // promgate's build-info probe (readiness, on its own timer) may land after the request under test.
  const v = [...u.received].reverse().find((r) => r.url.includes('/api/') && !r.url.endsWith('/status/buildinfo'));
  assert.ok(v, 'the upstream received an API request');
  return v;
}

async function send(
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  base = pg.url,
) {
  const r = await request(`${base}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    body: init.body,
    headers: init.headers,
  });
  const text = await r.body.text();
  return { status: r.statusCode, text };
}

test('GET: the rewritten query is signed over the workspace path prefix, and the signature verifies', async () => {
  const r = await send('/api/v1/query?query=up');
  assert.equal(r.status, 200, r.text);
  const v = lastApi();
  assert.equal(v.ok, true, v.reason);
  assert.ok(v.url.startsWith(`${WS}/api/v1/query?`), v.url);
  assert.equal(new URL(v.url, 'http://x').searchParams.get('query'), 'up{namespace="team-a"}');
  assert.equal(v.accessKeyId, STATIC.accessKeyId);
  assert.equal(
    v.headers['x-amz-content-sha256'],
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'empty body hash',
  );
});

test('POST: the rewritten form body is signed as sent (payload hash of the exact bytes)', async () => {
  const r = await send('/api/v1/query', {
    method: 'POST',
    body: 'query=sum(rate(http_requests_total[5m]))&time=1700000000',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(r.status, 200, r.text);
  const v = lastApi();
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.method, 'POST');
  const form = new URLSearchParams(v.body.toString('utf8'));
  assert.equal(form.get('query'), 'sum(rate(http_requests_total{namespace="team-a"}[5m]))');
  assert.equal(form.get('time'), '1700000000');
});

test('query strings needing canonical encoding: match[], spaces as + and %20, a literal +, UTF-8', async () => {
  const m1 = '{job="a b+c"}';
  const m2 = '{instance=~"ü.*", path="/x?y=1&z"}';
  const qs = `match[]=${encodeURIComponent(m1)}&match%5B%5D=${encodeURIComponent(m2).replace(/%20/g, '+')}&start=1`;
  const r = await send(`/api/v1/series?${qs}`);
  assert.equal(r.status, 200, r.text);
  const v = lastApi();
  assert.equal(v.ok, true, v.reason);
  const search = v.url.slice(v.url.indexOf('?') + 1);
  assert.doesNotMatch(search, /\+/, 'no + left for the service to read as a space or a plus');
  const sent = new URL(v.url, 'http://x').searchParams.getAll('match[]');
  assert.deepEqual(sent, ['{job="a b+c",namespace="team-a"}', '{instance=~"ü.*", path="/x?y=1&z",namespace="team-a"}']);
  // + as a space in a PromQL query.
  const q = await send('/api/v1/query?query=sum+by+(job)+(up)');
  assert.equal(q.status, 200, q.text);
  const w = lastApi();
  assert.equal(w.ok, true, w.reason);
  assert.equal(new URL(w.url, 'http://x').searchParams.get('query'), 'sum by (job) (up{namespace="team-a"})');
});

test('a streamed body that is not rewritten is buffered (up to maxBodyBytes) and signed; a larger one is 413', async () => {
  const r = await send('/api/v1/admin/tsdb/snapshot', {
    method: 'POST',
    body: 'skip_head=true',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(r.status, 200, r.text);
  const v = lastApi();
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.body.toString(), 'skip_head=true');
  const big = await send('/api/v1/admin/tsdb/snapshot', {
    method: 'POST',
    body: 'x'.repeat(5000),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(big.status, 413);
  assert.equal(JSON.parse(big.text).code, 'PG_BODY_TOO_LARGE');
});

test("roleArn: AssumeRole is signed with the chain's keys (verified by aws4 as sts), and the role's session keys sign the request", async () => {
  const r = await send('/assumed/api/v1/labels');
  assert.equal(r.status, 200, r.text);
  const v = lastApi();
  assert.equal(v.ok, true, v.reason);
  const assume = sts.calls.filter((c) => c.action === 'AssumeRole');
  assert.equal(assume.length, 1);
  assert.equal(assume[0]!.verified?.ok, true, assume[0]!.verified?.reason);
  assert.equal(assume[0]!.params.get('RoleArn'), 'arn:aws:iam::123456789012:role/amp-query');
  assert.equal(assume[0]!.params.get('RoleSessionName'), 'promgate-test');
  assert.equal(v.accessKeyId, sts.issued[0]!.accessKeyId);
  assert.equal(v.headers['x-amz-security-token'], sts.issued[0]!.sessionToken, 'the session token is sent and signed');
  // Cached: a second request does not assume the role again.
  assert.equal((await send('/assumed/api/v1/labels')).status, 200);
  assert.equal(sts.calls.filter((c) => c.action === 'AssumeRole').length, 1);
});

test("control rows: the verifier accepts aws4's own signature and refuses a wrong secret or a tampered query", async () => {
  const url = new URL(`${up.url}${WS}/api/v1/query?query=up`);
  const good = await request(url, { headers: signWithAws4('GET', url, undefined, REGION, STATIC) });
  assert.equal(good.statusCode, 200, await good.body.text());
  const wrong = await request(url, {
    headers: signWithAws4('GET', url, undefined, REGION, { ...STATIC, secretAccessKey: 'not-the-secret' }),
  });
  assert.equal(wrong.statusCode, 403);
  await wrong.body.dump();
  const tampered = await request(new URL(`${up.url}${WS}/api/v1/query?query=down`), {
    headers: signWithAws4('GET', url, undefined, REGION, STATIC),
  });
  assert.equal(tampered.statusCode, 403);
  await tampered.body.dump();
});

test('session tokens from the environment are sent and signed; a refused signature is 502 with a code, the reason logged, no secret anywhere', async (t) => {
  const key = {
    accessKeyId: 'ASIAPROMGATESESSION1',
    secretAccessKey: 'sessionSecretKeyForPromgateTests000000001',
    sessionToken: 'IQoJb3JpZ2luX2VjEPROMGATE-SESSION-TOKEN-0123456789abcdef',
  };
  const u = await startSigV4Upstream(REGION);
  t.after(() => u.close());
  u.keys.set(key.accessKeyId, { secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken });
  const p = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream: { url: "${u.url}${WS}", auth: { type: aws } }\n${tenantRule}`,
    env: {
      ...ISOLATED,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_SESSION_TOKEN: key.sessionToken,
    },
  });
  t.after(() => p.stop());
  const ok = await send('/api/v1/query?query=up', {}, p.url);
  assert.equal(ok.status, 200, ok.text);
  const v = lastApi(u);
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.headers['x-amz-security-token'], key.sessionToken);
  // The service now holds another secret for this key: it refuses, echoing its canonical request (with the token).
  u.keys.set(key.accessKeyId, { secretAccessKey: 'rotated-elsewhere', sessionToken: key.sessionToken });
  const refused = await send('/api/v1/query?query=up', {}, p.url);
  assert.equal(refused.status, 502);
  const body = JSON.parse(refused.text) as { status: string; errorType: string; code: string; error: string };
  assert.equal(body.status, 'error');
  assert.equal(body.errorType, 'unavailable');
  assert.equal(body.code, 'PG_UPSTREAM_AUTH_REFUSED');
  assert.match(lastApi(u).reason, new RegExp(key.sessionToken), 'the backend reason really contained the token');
  const line = await waitFor(() => p.logLines().find((l) => l.msg === 'upstream refused the signed request'), {
    what: 'the refusal log line',
    procs: [p.proc],
  });
  assert.match(String(line.reason), /InvalidSignatureException/);
  assert.match(String(line.reason), /signature we calculated does not match/);
  assert.equal(line.upstreamStatus, 403);
  const everything = p.logs() + JSON.stringify(p.logLines()) + refused.text;
  for (const secret of [key.secretAccessKey, key.sessionToken])
    assert.ok(!everything.includes(secret), 'no secret in logs or answers');
});

test('web identity (IRSA): credentials from the token file via a local STS; concurrent requests share them; refreshed before expiry', async (t) => {
  const dir = makeTempDir('irsa');
  t.after(() => dir.remove());
  const tokenFile = dir.file('token');
  writeFileSync(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.irsa-service-account-token.sig');
  const u = await startSigV4Upstream(REGION);
  t.after(() => u.close());
  // Six-second credentials: refreshed at half their lifetime (the refresher's unit test pins the exact schedule).
  const s = await startFakeSts({
    webIdentityToken: () => 'eyJhbGciOiJSUzI1NiJ9.irsa-service-account-token.sig',
    grant: u.keys,
    lifetimeMs: 6_000,
  });
  t.after(() => s.close());
  const p = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream: { url: "${u.url}${WS}", auth: { type: aws } }\n${tenantRule}`,
    env: {
      ...ISOLATED,
      AWS_REGION: REGION,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/irsa',
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_SESSION_NAME: 'promgate-irsa',
      AWS_ENDPOINT_URL_STS: s.url,
    },
  });
  t.after(() => p.stop());
  const answers = await Promise.all(Array.from({ length: 8 }, () => send('/api/v1/query?query=up', {}, p.url)));
  for (const a of answers) assert.equal(a.status, 200, a.text);
  assert.equal(s.calls.length, 1, 'eight concurrent requests, one STS call');
  const first = s.calls[0]!;
  assert.equal(first.action, 'AssumeRoleWithWebIdentity');
  assert.equal(first.params.get('RoleArn'), 'arn:aws:iam::123456789012:role/irsa');
  assert.equal(lastApi(u).accessKeyId, s.issued[0]!.accessKeyId);
  s.lifetimeMs = 3_600_000;
  // The refresh happens on its own, ahead of expiry: wait for the second STS call, not for a time.
  await waitFor(() => s.issued.length >= 2, {
    what: 'the credentials to be refreshed',
    timeoutMs: 20_000,
    procs: [p.proc],
  });
  const next = s.issued[1]!;
  await waitFor(
    async () =>
      (await send('/api/v1/query?query=up', {}, p.url)).status === 200 && lastApi(u).accessKeyId === next.accessKeyId,
    { what: 'requests signed with the refreshed keys', procs: [p.proc] },
  );
  assert.ok(
    u.received.filter((r) => r.url.includes('/api/')).every((r) => r.ok),
    'no request was ever refused: the refresh came before expiry',
  );
});

test('--aws with AWS_REGION (prometheus-multi-tenant-proxy flags) signs', async (t) => {
  const dir = makeTempDir('aws-flag');
  t.after(() => dir.remove());
  const users = dir.file('users.yaml');
  writeFileSync(users, 'users:\n  - username: u\n    password: p\n    namespace: team-a\n');
  const p = await startPromgate({
    args: ['--port', '{{PORT}}', '--aws', '--prometheus-endpoint', `${up.url}${WS}`, '--auth-config', users],
    env: {
      ...ISOLATED,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: STATIC.accessKeyId,
      AWS_SECRET_ACCESS_KEY: STATIC.secretAccessKey,
    },
  });
  t.after(() => p.stop());
  const r = await send(
    '/api/v1/query?query=up',
    { headers: { authorization: 'Basic ' + Buffer.from('u:p').toString('base64') } },
    p.url,
  );
  assert.equal(r.status, 200, r.text);
  const v = lastApi();
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.accessKeyId, STATIC.accessKeyId);
});
