// Route options isolation.test.ts leaves out, against real Prometheus: apiPrefix, errorOnConflict, allowMetadata, duplicate query.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { stringify } from 'yaml';
import { makeTempDir, promgateBuilt, readAnswer, seriesOf, startPromgate, startStack, waitFor, type PromgateInstance, type Stack } from './harness/index.js';

type Labels = Readonly<Record<string, string>>;
type User = 'a' | 'b';
const NS: Record<User, string[]> = { a: ['team-a'], b: ['team-b', 'team-c'] };
const password = (u: User): string => `${u}-gaps-pw`;

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('isolation-gaps');
let stack: Stack;
let pg: PromgateInstance;
let Ts = '';

before(async () => {
  if (skip) return;
  // Prometheus itself lives under /prometheus, as Mimir's Prometheus API does.
  stack = await startStack({ routePrefix: '/prometheus' });
  const users = [{ username: 'a', namespace: 'team-a' }, { username: 'b', namespaces: ['team-b', 'team-c'] }]
    .map((u) => ({ ...u, password: bcrypt.hashSync(password(u.username as User), 4) }));
  writeFileSync(tmp.file('users.yaml'), stringify({ users }));
  const base = JSON.stringify(stack.prom.base);
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  - { name: mimir, prefix: /, apiPrefix: /prometheus, upstream: { url: ${JSON.stringify(stack.prom.url)}, type: prometheus } }
  - { name: strict, prefix: /strict, errorOnConflict: true, upstream: { url: ${base}, type: prometheus } }
  - { name: meta, prefix: /meta, allowMetadata: true, upstream: { url: ${base}, type: prometheus } }
  - { name: plain, prefix: /plain, upstream: { url: ${base}, type: prometheus } }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))} }
`,
  });
  await waitFor(() => stack.prom.scrapes() >= 4, { what: '4 scrapes', procs: [stack.prom.proc] });
  Ts = ((Date.now() - 2000) / 1000).toFixed(3);
});

after(async () => {
  await pg?.stop();
  await stack?.stop();
  tmp.remove();
});

interface Res {
  status: number;
  text: string;
  json: unknown;
}

async function call(user: User, path: string, o: { params?: [string, string][]; rawQuery?: string; body?: string; id?: string } = {}): Promise<Res> {
  const qs = [new URLSearchParams(o.params ?? []).toString(), o.rawQuery ?? ''].filter((s) => s !== '').join('&');
  const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`${user}:${password(user)}`).toString('base64')}` };
  if (o.id) headers['x-request-id'] = o.id;
  if (o.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const r = await request(`${pg.url}${path}${qs ? `?${qs}` : ''}`, { method: o.body === undefined ? 'GET' : 'POST', headers, body: o.body });
  const { status, text, json } = await readAnswer(r);
  return { status, text, json };
}

/** The `data` of a Prometheus success envelope. */
function ok<T>(r: Res, what: string): T {
  assert.equal(r.status, 200, `${what}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  const env = r.json as { status?: string; data?: T };
  assert.equal(env.status, 'success', what);
  return env.data as T;
}

function refused(r: Res, code: string, what: string): void {
  assert.equal(r.status, 403, `${what}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  const e = r.json as { status?: string; errorType?: string; error?: unknown; code?: string };
  assert.equal(e.status, 'error', what);
  assert.equal(e.errorType, 'forbidden', what);
  assert.equal(typeof e.error, 'string', what);
  assert.equal(e.code, code, `${what}: ${r.text.slice(0, 300)}`);
}

interface Sample {
  metric: Labels;
  value: [number, string];
}
const query = async (user: User, path: string, q: string): Promise<Sample[]> =>
  ok<{ result: Sample[] }>(await call(user, path, { params: [['query', q], ['time', Ts]] }), `${user} ${q}`).result;
async function direct<T>(path: string, params: [string, string][] = []): Promise<T> {
  const r = await request(`${stack.prom.base}${path}?${new URLSearchParams(params)}`);
  return ((await r.body.json()) as { data: T }).data;
}
const namespaces = (xs: readonly { metric?: Labels; labels?: Labels }[]): string[] =>
  [...new Set(xs.map((x) => (x.metric ?? x.labels ?? {}).namespace ?? '<none>'))].sort();
const alertKey = (l: Labels): string => `${l.alertname}/${l.namespace ?? '-'}`;

test('apiPrefix: /prometheus/api/v1/query and series are enforced and forwarded with the prefix kept', { skip }, async () => {
  for (const u of ['a', 'b'] as const) {
    assert.deepEqual(namespaces(await query(u, '/prometheus/api/v1/query', 'count by (namespace) (http_requests_total)')), NS[u], u);
    const sum = await query(u, '/prometheus/api/v1/query', 'sum(http_requests_total)');
    const want = await direct<{ result: Sample[] }>('/api/v1/query', [['query', `sum(http_requests_total{namespace=~"${NS[u].join('|')}"})`], ['time', Ts]]);
    assert.deepEqual(sum.map((s) => s.value), want.result.map((s) => s.value), `${u}: its own total`);
    // POST form under the prefix too.
    const posted = ok<{ result: Sample[] }>(await call(u, '/prometheus/api/v1/query', { body: `query=${encodeURIComponent('count by (namespace) (tenant_info)')}&time=${Ts}` }), 'POST');
    assert.deepEqual(namespaces(posted.result), NS[u]);
  }
  const end = Ts;
  const start = (Number(Ts) - 60).toFixed(3);
  const series = ok<Labels[]>(await call('a', '/prometheus/api/v1/series', { params: [['match[]', 'http_requests_total'], ['match[]', 'node_cpu_seconds_total'], ['start', start], ['end', end]] }), 'series');
  assert.equal(series.length, seriesOf('http_requests_total', 'team-a').length);
  assert.ok(series.every((l) => l.namespace === 'team-a' && l.__name__ === 'http_requests_total'), JSON.stringify(series.slice(0, 3)));
  const dflt = ok<Labels[]>(await call('b', '/prometheus/api/v1/series', { params: [['start', start], ['end', end]] }), 'default match[]');
  assert.ok(dflt.length > 0 && dflt.every((l) => NS.b.includes(l.namespace ?? '')), 'no match[]: the tenant alone');
  // The endpoint table is consulted below the apiPrefix: refusals and unknown paths still apply there.
  refused(await call('a', '/prometheus/api/v1/status/config'), 'PG_PATH_REFUSED', 'status/config under apiPrefix');
  assert.equal((await call('a', '/prometheus/api/v1/nope')).status, 404);
});

test('apiPrefix: /prometheus/api/v1/rules and /alerts are filtered to the tenant', { skip }, async () => {
  interface Rule {
    name: string;
    type: string;
    alerts?: { labels: Labels }[];
  }
  const all = await direct<{ groups: { name: string; rules: Rule[] }[] }>('/api/v1/rules');
  assert.ok(all.groups.some((g) => g.name === 'infra'), 'Prometheus has rules a must not see');
  const rules = ok<{ groups: { name: string; rules: Rule[] }[] }>(await call('a', '/prometheus/api/v1/rules'), 'rules');
  const got = rules.groups.flatMap((g) => g.rules.map((r) => `${g.name}/${r.name}${r.type === 'alerting' ? `[${(r.alerts ?? []).map((x) => alertKey(x.labels)).sort().join(',')}]` : ''}`));
  assert.deepEqual(got.sort(), ['tenant-alerts/HighErrorRate[HighErrorRate/team-a]', 'tenant-alerts/TeamAStatic[TeamAStatic/team-a]']);

  const every = (await direct<{ alerts: { labels: Labels }[] }>('/api/v1/alerts')).alerts;
  assert.ok(every.some((x) => x.labels.namespace !== 'team-a'), 'Prometheus holds other tenants\' alerts');
  for (const u of ['a', 'b'] as const) {
    const alerts = ok<{ alerts: { labels: Labels }[] }>(await call(u, '/prometheus/api/v1/alerts'), `${u} alerts`).alerts;
    const want = every.filter((x) => NS[u].includes(x.labels.namespace ?? '')).map((x) => alertKey(x.labels)).sort();
    assert.ok(want.length > 0, u);
    assert.deepEqual(alerts.map((x) => alertKey(x.labels)).sort(), want, u);
  }
});

test('errorOnConflict: another tenant\'s namespace → 403 PG_ENFORCE_CONFLICT; without it → 200 and no data', { skip }, async () => {
  for (const q of ['up{namespace="team-b"}', 'sum(http_requests_total{namespace="team-b"})', 'http_requests_total{namespace=~"team-[bc]"}']) {
    refused(await call('a', '/strict/api/v1/query', { params: [['query', q], ['time', Ts]] }), 'PG_ENFORCE_CONFLICT', `strict ${q}`);
    refused(await call('a', '/strict/api/v1/query', { body: `query=${encodeURIComponent(q)}` }), 'PG_ENFORCE_CONFLICT', `strict POST ${q}`);
    assert.deepEqual(await query('a', '/plain/api/v1/query', q), [], `plain ${q}`);
  }
  refused(await call('a', '/strict/api/v1/series', { params: [['match[]', '{namespace="team-b"}']] }), 'PG_ENFORCE_CONFLICT', 'strict series');
  assert.deepEqual(ok(await call('a', '/plain/api/v1/series', { params: [['match[]', '{namespace="team-b"}']] }), 'plain series'), []);
  // Queries that can match inside the tenant are still served on the strict route.
  assert.deepEqual(namespaces(await query('a', '/strict/api/v1/query', 'http_requests_total{namespace="team-a"}')), ['team-a']);
  assert.deepEqual(namespaces(await query('b', '/strict/api/v1/query', 'http_requests_total{namespace="team-b"}')), ['team-b']);
});

test('allowMetadata: /api/v1/metadata is served on the route that sets it, refused on one that does not', { skip }, async () => {
  const meta = ok<Record<string, unknown[]>>(await call('a', '/meta/api/v1/metadata'), 'meta route');
  assert.ok('http_requests_total' in meta, Object.keys(meta).join());
  assert.deepEqual(Object.keys(meta).sort(), Object.keys(await direct<Record<string, unknown>>('/api/v1/metadata')).sort(), 'passed through');
  ok(await call('a', '/meta/api/v1/targets/metadata', { params: [['metric', 'http_requests_total']] }), 'targets/metadata');
  for (const path of ['/api/v1/metadata', '/api/v1/targets/metadata']) {
    refused(await call('a', `/plain${path}`), 'PG_PATH_REFUSED', `plain ${path}`);
    refused(await call('a', `/prometheus${path}`), 'PG_PATH_REFUSED', `mimir ${path}`);
  }
});

test('query given twice: both copies are rewritten, as the access log shows, and the answer is the tenant\'s', { skip }, async () => {
  const cpu = 'sum(node_cpu_seconds_total)';
  const own = 'sum(http_requests_total)';
  const T = 'namespace="team-a"';
  const cases: { id: string; rawQuery: string; body?: string; logged: string }[] = [
    { id: 'gaps-twice', rawQuery: `query=${encodeURIComponent(cpu)}&query=${encodeURIComponent(own)}&time=${Ts}`, logged: `sum(node_cpu_seconds_total{${T}}) ; sum(http_requests_total{${T}})` },
    { id: 'gaps-spelled', rawQuery: `%71uery=${encodeURIComponent(own)}&qu%65ry=${encodeURIComponent(cpu)}&time=${Ts}`, logged: `sum(http_requests_total{${T}}) ; sum(node_cpu_seconds_total{${T}})` },
    { id: 'gaps-url-body', rawQuery: `query=${encodeURIComponent(cpu)}&time=${Ts}`, body: `query=${encodeURIComponent(own)}&query=up`, logged: `sum(node_cpu_seconds_total{${T}}) ; sum(http_requests_total{${T}}) ; up{${T}}` },
  ];
  const aTotal = (await query('a', '/plain/api/v1/query', own)).map((s) => s.value[1]);
  assert.equal(aTotal.length, 1);
  for (const c of cases) {
    const r = await call('a', '/plain/api/v1/query', { rawQuery: c.rawQuery, body: c.body, id: c.id });
    const values = ok<{ result: Sample[] }>(r, c.id).result.map((s) => s.value[1]);
    // Whichever copy Prometheus evaluates is an enforced one: a's own total, or nothing (no CPU series is a's).
    assert.ok(values.length === 0 || (values.length === 1 && values[0] === aTotal[0]), `${c.id}: ${JSON.stringify(values)}`);
    const line = await waitFor(() => pg.logLines().find((l) => l.reqId === c.id), { what: `access log ${c.id}`, timeoutMs: 3000 });
    assert.equal(line.query, c.logged, c.id);
    assert.equal(line.user, 'a', c.id);
  }
});
