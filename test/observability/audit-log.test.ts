// server.auditLog: every decision (allowed, or refused with its code and reason) is one JSON line with identity, tenant, route, endpoint and rewritten query; a file of its own rotates by size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { startInProcess } from '../helpers/gateway.js';
import { startStub, type Stub } from '../helpers/upstream-stub.js';
import { waitFor } from '../helpers/wait.js';

const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

async function upstream(t: { after(fn: () => unknown): void }): Promise<Stub> {
  const stub = await startStub((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
  });
  t.after(() => stub.close());
  return stub;
}

function usersFile(dir: ReturnType<typeof makeTempDir>): string {
  const f = dir.file('users.yaml');
  writeFileSync(
    f,
    'users:\n  - username: alice\n    password: alice-pw\n    namespace: team-a\n  - username: nobody\n    password: nobody-pw\n',
  );
  return f;
}

test('the real binary writes one audit line per decision on stdout: allowed, and refused with code and reason', async (t) => {
  const dir = makeTempDir('audit');
  t.after(() => dir.remove());
  const stub = await upstream(t);
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}}, accessLog: false, auditLog: { enabled: true } }
routes:
  - name: prom
    prefix: /
    upstream: { url: "${stub.url}" }
auth:
  basic: { usersFile: ${usersFile(dir)} }
`,
  });
  t.after(() => pg.stop());
  const send = async (path: string, auth?: string) => {
    const r = await request(`${pg.url}${path}`, { headers: auth ? { authorization: auth } : {} });
    await r.body.text();
    return r.statusCode;
  };
  assert.equal(await send('/api/v1/query?query=rate(http_requests_total[5m])', basic('alice', 'alice-pw')), 200);
  assert.equal(await send('/api/v1/query?query=up', basic('alice', 'wrong')), 401);
  assert.equal(await send('/api/v1/query?query=up', basic('nobody', 'nobody-pw')), 403);
  assert.equal(await send('/api/v1/admin/tsdb/delete_series?match[]=up', basic('alice', 'alice-pw')), 403);
  assert.equal(await send('/api/v1/query?query=up%7B', basic('alice', 'alice-pw')), 400);
  const lines = await waitFor(
    () => {
      const l = pg.logLines().filter((x) => x.msg === 'request');
      // The harness's health probes (route self) are not audited.
      assert.ok(
        l.every((x) => x.route !== 'self'),
        JSON.stringify(l),
      );
      return l.length >= 5 ? l : undefined;
    },
    { what: 'five audit lines', logs: () => pg.logs() },
  );
  const [allowed, badPw, noTenant, blocked, badQuery] = lines;
  assert.deepEqual(pick(allowed!), {
    decision: 'allow',
    user: 'alice',
    auth: 'basic',
    tenant: allowed!.tenant,
    route: 'prom',
    endpoint: '/api/v1/query',
    query: 'rate(http_requests_total{namespace="team-a"}[5m])',
    status: 200,
  });
  assert.ok(typeof allowed!.tenant === 'string' && allowed!.tenant !== '');
  assert.equal(allowed!.code, undefined);
  assert.equal(allowed!.reason, undefined);
  for (const [line, code] of [
    [badPw, 'PG_AUTHN_BAD_CREDENTIALS'],
    [noTenant, 'PG_TENANT_NONE'],
    [blocked, 'PG_PATH_REFUSED'],
    [badQuery, 'PG_BAD_QUERY'],
  ] as const) {
    assert.equal(line!.decision, 'deny', JSON.stringify(line));
    assert.equal(line!.code, code, JSON.stringify(line));
    assert.ok(typeof line!.reason === 'string' && line!.reason.length > 0, JSON.stringify(line));
    assert.equal(line!.route, 'prom');
  }
  assert.equal(noTenant!.user, 'nobody');
  // The endpoint is the table entry the path matched.
  assert.equal(blocked!.endpoint, '/api/v1/admin/*');
});

function pick(l: Record<string, unknown>): Record<string, unknown> {
  const { decision, user, auth, tenant, route, endpoint, query, status } = l;
  return { decision, user, auth, tenant, route, endpoint, query, status };
}

test('auditLog.file: lines go to their own file (msg "audit"), rotated at maxSize, maxFiles old files kept besides the current one', async (t) => {
  const dir = makeTempDir('audit-file');
  t.after(() => dir.remove());
  const stub = await upstream(t);
  const file = dir.file('audit/audit.log');
  const gw = await startInProcess({
    yaml: `server:
  accessLog: true
  auditLog: { enabled: true, file: ${file}, maxSize: 4KiB, maxFiles: 1 }
routes:
  - name: prom
    prefix: /
    upstream: { url: "${stub.url}" }
auth:
  basic: { usersFile: ${usersFile(dir)} }
`,
  });
  t.after(() => gw.close());
  const auditDir = dir.file('audit');
  const files = () => readdirSync(auditDir).sort();
  let sent = 0;
  // Each line is ~400 bytes: keep sending until the third file exists (two rotations).
  await waitFor(
    async () => {
      const r = await request(`${gw.url}/api/v1/query?query=up&n=${sent++}`, {
        headers: { authorization: basic('alice', sent % 3 ? 'alice-pw' : 'wrong') },
      });
      await r.body.text();
      return files().includes('audit.3.log') || undefined;
    },
    { what: 'the audit file rotated twice', timeoutMs: 30_000, intervalMs: 1 },
  );
  await waitFor(() => !files().includes('audit.1.log') || undefined, {
    what: 'the oldest file removed (maxFiles 1: one old file besides the current)',
  });
  assert.deepEqual(files(), ['audit.2.log', 'audit.3.log']);
  // The rotated file reached the size, and holds whole audit lines only.
  assert.ok(statSync(`${auditDir}/audit.2.log`).size >= 4096);
  const lines = readFileSync(`${auditDir}/audit.2.log`, 'utf8').trimEnd().split('\n');
  for (const l of lines) {
    const j = JSON.parse(l) as Record<string, unknown>;
    assert.equal(j.msg, 'audit');
    assert.ok(j.decision === 'allow' || (j.decision === 'deny' && j.code === 'PG_AUTHN_BAD_CREDENTIALS'), l);
    assert.equal(j.route, 'prom');
  }
  // The access log keeps going on stdout, with the audit fields too.
  const access = gw.logs.filter((l) => l.msg === 'request');
  assert.ok(access.length >= lines.length);
  assert.ok(access.every((l) => l.decision === 'allow' || l.decision === 'deny'));
});
