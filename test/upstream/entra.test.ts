// Entra ID end to end: promgate (real process, real @azure/identity) gets tokens from a local HTTPS authority; the upstream checks them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir, type TempDir } from '../e2e/harness/cleanup.js';
import { makeCa, type TestCa } from '../e2e/harness/certs.js';
import { waitFor } from '../e2e/harness/wait.js';
import { startEntra, startBearerUpstream, type Entra, type BearerUpstream } from './fixtures/entra.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0a7f1c52-1111-4c55-9a3e-6f2b0c0d0e0f';
const SECRET = 'Kz48Q~promgate-test-client-secret-value-0123';

let dir: TempDir;
let ca: TestCa;
let server: { cert: Buffer; key: Buffer };

before(() => {
  dir = makeTempDir('entra');
  ca = makeCa(dir.path);
  server = ca.issue('entra', 'server');
});
after(() => dir.remove());

/** The authority is trusted through the test CA only, as a private CA would be (NODE_EXTRA_CA_CERTS). */
// (AZURE_AUTHORITY_HOST is not blanked: @azure/identity reads it itself, and an empty one is not a valid https URL.)
const processEnv = () => ({
  NODE_EXTRA_CA_CERTS: ca.caFile,
  AZURE_TENANT_ID: '',
  AZURE_CLIENT_ID: '',
  AZURE_FEDERATED_TOKEN_FILE: '',
  AZURE_CLIENT_SECRET: '',
});

const anonymousUnrestricted = `auth: { anonymous: true }
tenants:
  rules:
    - match: { users: [anonymous] }
      unrestricted: true
`;

function validFor(e: Entra): (token: string) => boolean {
  return (t) => e.issued.some((i) => i.token === t && i.expiresAt > Date.now());
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const r = await request(url);
  return { status: r.statusCode, text: await r.body.text() };
}

async function withStack(
  t: { after(fn: () => unknown): void },
  entraOpts: Partial<Parameters<typeof startEntra>[0]>,
  auth: string,
  env: Record<string, string> = {},
): Promise<{ e: Entra; up: BearerUpstream; url: string; logs: () => string }> {
  const e = await startEntra({ key: server.key, cert: server.cert, tenantId: TENANT, clientId: CLIENT, ...entraOpts });
  t.after(() => e.close());
  const up = await startBearerUpstream(validFor(e));
  t.after(() => up.close());
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream:\n      url: ${up.url}\n      auth: ${auth.replace('{{AUTHORITY}}', e.url)}\n${anonymousUnrestricted}`,
    env: { ...processEnv(), ...env },
  });
  t.after(() => pg.stop());
  return { e, up, url: pg.url, logs: () => pg.logs() };
}

test('client secret: the token endpoint gets the secret and the default scope; the upstream gets the bearer token', async (t) => {
  const s = await withStack(
    t,
    { clientSecret: SECRET },
    `{ type: azure, tenantId: "${TENANT}", clientId: "${CLIENT}", clientSecret: "${SECRET}", authorityHost: "{{AUTHORITY}}", disableInstanceDiscovery: true }`,
  );
  const answers = await Promise.all(Array.from({ length: 6 }, () => get(`${s.url}/api/v1/query?query=up`)));
  for (const a of answers) assert.equal(a.status, 200, a.text);
  assert.equal(s.e.calls.length, 1, 'six concurrent requests, one token request');
  const call = s.e.calls[0]!;
  assert.equal(call.tenant, TENANT);
  assert.equal(call.form.get('client_id'), CLIENT);
  assert.equal(call.form.get('client_secret'), SECRET);
  assert.equal(call.form.get('scope'), 'https://prometheus.monitor.azure.com/.default');
  assert.deepEqual(new Set(s.up.seen), new Set([`Bearer ${s.e.issued[0]!.token}`]));
});

test('workload identity from AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST (as AKS injects them): the token file is the client assertion; a configurable scope', async (t) => {
  const file = dir.file('azure-identity-token-2');
  writeFileSync(file, 'eyJhbGciOiJSUzI1NiJ9.projected-token-two.sig');
  // The authority must listen before promgate starts (its URL goes into AZURE_AUTHORITY_HOST).
  const e = await startEntra({
    key: server.key,
    cert: server.cert,
    tenantId: TENANT,
    clientId: CLIENT,
    assertion: () => 'eyJhbGciOiJSUzI1NiJ9.projected-token-two.sig',
  });
  t.after(() => e.close());
  const up = await startBearerUpstream(validFor(e));
  t.after(() => up.close());
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream: { url: "${up.url}", auth: { type: azure, disableInstanceDiscovery: true, scope: "https://prometheus.monitor.azure.us/.default" } }\n${anonymousUnrestricted}`,
    env: {
      ...processEnv(),
      AZURE_FEDERATED_TOKEN_FILE: file,
      AZURE_CLIENT_ID: CLIENT,
      AZURE_TENANT_ID: TENANT,
      AZURE_AUTHORITY_HOST: e.url,
    },
  });
  t.after(() => pg.stop());
  const r = await get(`${pg.url}/api/v1/labels`);
  assert.equal(r.status, 200, r.text);
  const call = e.calls.at(-1)!;
  assert.equal(call.form.get('client_assertion'), 'eyJhbGciOiJSUzI1NiJ9.projected-token-two.sig');
  assert.equal(call.form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  assert.equal(call.form.get('scope'), 'https://prometheus.monitor.azure.us/.default');
  assert.equal(up.seen.at(-1), `Bearer ${e.issued.at(-1)!.token}`);
});

test('expiry and refresh: a short-lived token is replaced ahead of its expiry, without a request failing', async (t) => {
  const s = await withStack(
    t,
    { clientSecret: SECRET, expiresIn: 6 },
    `{ type: azure, tenantId: "${TENANT}", clientId: "${CLIENT}", clientSecret: "${SECRET}", authorityHost: "{{AUTHORITY}}", disableInstanceDiscovery: true }`,
  );
  assert.equal((await get(`${s.url}/api/v1/query?query=up`)).status, 200);
  s.e.expiresIn = 3600;
  await waitFor(() => s.e.issued.length >= 2, { what: 'a second token, fetched ahead of expiry', timeoutMs: 20_000 });
  const second = `Bearer ${s.e.issued[1]!.token}`;
  await waitFor(
    async () => (await get(`${s.url}/api/v1/query?query=up`)).status === 200 && s.up.seen.at(-1) === second,
    { what: 'requests carrying the new token' },
  );
  assert.equal(s.e.issued.length, 2, 'a 1 h token is not refreshed again');
});

test('a token endpoint that refuses: 502 PG_UPSTREAM_CREDENTIALS, /-/ready says why; fixed, it recovers on its own', async (t) => {
  const e = await startEntra({
    key: server.key,
    cert: server.cert,
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: SECRET,
  });
  e.mode = 'error';
  t.after(() => e.close());
  const up = await startBearerUpstream(validFor(e));
  t.after(() => up.close());
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream: { url: "${up.url}", auth: { type: azure, tenantId: "${TENANT}", clientId: "${CLIENT}", clientSecret: "${SECRET}", authorityHost: "${e.url}", disableInstanceDiscovery: true } }\n${anonymousUnrestricted}`,
    env: processEnv(),
  });
  t.after(() => pg.stop());
  const r = await get(`${pg.url}/api/v1/query?query=up`);
  assert.equal(r.status, 502);
  const body = JSON.parse(r.text) as { status: string; errorType: string; code: string; error: string };
  assert.deepEqual([body.status, body.errorType, body.code], ['error', 'unavailable', 'PG_UPSTREAM_CREDENTIALS']);
  const ready = await get(`${pg.url}/-/ready`);
  assert.equal(ready.status, 503);
  assert.match(ready.text, /upstream credentials default \(azure\): NOT available \(.*AADSTS7000215/);
  assert.equal(up.seen.length, 0, 'nothing unsigned reached the upstream');
  e.mode = 'ok';
  await waitFor(async () => (await get(`${pg.url}/-/ready`)).status === 200, {
    what: 'readiness after the endpoint recovers',
    timeoutMs: 20_000,
    procs: [pg.proc],
  });
  assert.equal((await get(`${pg.url}/api/v1/query?query=up`)).status, 200);
  const everything = pg.logs() + r.text + ready.text;
  assert.ok(!everything.includes(SECRET), 'the client secret appears nowhere');
  for (const i of e.issued) assert.ok(!everything.includes(i.token), 'no token appears in logs or answers');
});

test('a token endpoint that hangs: the request is answered 502 after credentialTimeout, not held forever', async (t) => {
  const e = await startEntra({
    key: server.key,
    cert: server.cert,
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: SECRET,
  });
  e.mode = 'hang';
  t.after(() => e.close());
  const up = await startBearerUpstream(validFor(e));
  t.after(() => up.close());
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream: { url: "${up.url}", auth: { type: azure, tenantId: "${TENANT}", clientId: "${CLIENT}", clientSecret: "${SECRET}", authorityHost: "${e.url}", disableInstanceDiscovery: true, credentialTimeout: 1s } }\n${anonymousUnrestricted}`,
    env: processEnv(),
  });
  t.after(() => pg.stop());
  const r = await get(`${pg.url}/api/v1/query?query=up`);
  assert.equal(r.status, 502);
  assert.equal(JSON.parse(r.text).code, 'PG_UPSTREAM_CREDENTIALS');
  await waitFor(() => e.hits > 0, { what: 'the hanging authority to be asked', procs: [pg.proc] });
  const ready = await get(`${pg.url}/-/ready`);
  assert.equal(ready.status, 503);
  assert.match(ready.text, /no answer within 1000 ms/);
});

test('managed identity (user-assigned, through the App Service identity endpoint): the client id and the identity header are sent', async (t) => {
  const MI_CLIENT = '5e5e5e5e-0000-4000-8000-0000000000cc';
  const seen: URL[] = [];
  const tokens: string[] = [];
  const msi = createHttps({ key: server.key, cert: server.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    seen.push(url);
    if (req.headers['x-identity-header'] !== 'identity-header-value')
      return void res.writeHead(401).end('{"error":"bad header"}');
    const token = `eyJ0eXAiOiJKV1QifQ.mi-${tokens.length + 1}.sig`;
    tokens.push(token);
    const body = JSON.stringify({
      access_token: token,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource: url.searchParams.get('resource'),
      token_type: 'Bearer',
      client_id: url.searchParams.get('client_id'),
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => msi.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        msi.closeAllConnections();
        msi.close(() => r());
      }),
  );
  const up = await startBearerUpstream((tok) => tokens.includes(tok));
  t.after(() => up.close());
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }\nroutes:\n  - upstream: { url: "${up.url}", auth: { type: azure, clientId: "${MI_CLIENT}" } }\n${anonymousUnrestricted}`,
    env: {
      ...processEnv(),
      IDENTITY_ENDPOINT: `https://127.0.0.1:${(msi.address() as AddressInfo).port}/msi/token`,
      IDENTITY_HEADER: 'identity-header-value',
    },
  });
  t.after(() => pg.stop());
  const r = await get(`${pg.url}/api/v1/query?query=up`);
  assert.equal(r.status, 200, r.text);
  const call = seen.at(-1)!;
  assert.equal(call.searchParams.get('client_id'), MI_CLIENT);
  assert.equal(
    call.searchParams.get('resource'),
    'https://prometheus.monitor.azure.com',
    'the scope without /.default, as managed identity wants a resource',
  );
  assert.equal(up.seen.at(-1), `Bearer ${tokens.at(-1)}`);
});
