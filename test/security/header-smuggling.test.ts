// Header smuggling: identity, tenant and forwarding headers a client sends never reach the upstream, in any spelling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';

let stub: Stub;
let pg: InProcessGateway;

before(async () => {
  stub = await startStub(echoJson);
  pg = await startInProcess({
    yaml: `routes:
  - upstream: {url: "${stub.url}", tenantHeader: {name: X-Scope-OrgID}}
  - prefix: /app
    upstream: {url: "${stub.url}", type: http}
auth: {anonymous: true}
tenants: {rules: [{labels: {namespace: team-a}}]}
`,
  });
});

after(async () => {
  await pg?.close();
  await stub?.close();
});

/** Published spellings: dashes, underscores, mixed case (nginx `underscores_in_headers`, CGI-style stacks). */
const SPOOFED: [name: string, value: string][] = [
  ['X-Forwarded-User', 'admin'],
  ['x_forwarded_user', 'admin'],
  ['X-Forwarded-Email', 'admin@example.com'],
  ['x_forwarded_email', 'admin@example.com'],
  ['X-Forwarded-Groups', 'platform-admins'],
  ['X-Forwarded-Preferred-Username', 'admin'],
  ['X-Forwarded-Access-Token', 'stolen'],
  ['X-Auth-Request-User', 'admin'],
  ['x_auth_request_user', 'admin'],
  ['X-Auth-Request-Email', 'admin@example.com'],
  ['X-Auth-Request-Groups', 'platform-admins'],
  ['X-Scope-OrgID', 'team-b'],
  ['x_scope_orgid', 'team-b'],
  ['THANOS-TENANT', 'team-b'],
  ['Remote-User', 'admin'],
  ['X-WebAuth-User', 'admin'],
  ['X-Forwarded-Host', 'evil.example.com'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Real-IP', '10.0.0.1'],
  ['Forwarded', 'for=10.0.0.1;host=evil'],
];

function send(path: string, headers: [string, string][]): Promise<number> {
  return new Promise((resolve, reject) => {
    // Each spelling is a distinct header name on the wire; node:http keeps underscores as they are.
    const r = httpRequest(`${pg.url}${path}`, { headers: Object.fromEntries(headers) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });
}

for (const prefix of ['', '/app']) {
  test(`spoofed identity headers are stripped (${prefix || 'prometheus route'})`, async () => {
    const status = await send(`${prefix}/api/v1/query?query=up`, SPOOFED);
    assert.equal(status, 200);
    // The gateway's readiness probe of the stub may land after the request; it is not what the client sent.
    const got = stub.received.filter((r) => !r.url.endsWith('/-/ready')).at(-1)!.headers;
    for (const [name, value] of SPOOFED) {
      const seen = got[name.toLowerCase()];
      assert.ok(seen === undefined || !String(seen).includes(value), `${name}: ${String(seen)} reached the upstream`);
    }
    if (prefix === '') assert.equal(got['x-scope-orgid'], 'team-a', 'promgate sets the tenant header itself');
    assert.equal(got['x-forwarded-host'], `127.0.0.1:${pg.port}`);
    assert.equal(got['x-forwarded-proto'], 'http');
  });
}
