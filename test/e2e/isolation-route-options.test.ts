// Route options isolation.test.ts leaves out, against real Prometheus: apiPrefix, errorOnConflict, allowMetadata,
// a duplicate query parameter, and unprotectedPaths as exact paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { stringify } from 'yaml';
import {
  makeTempDir,
  promgateBuilt,
  readAnswer,
  seriesOf,
  startPromgate,
  startStack,
  waitFor,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';

type Labels = Readonly<Record<string, string>>;
type User = 'a' | 'b';
const NS: Record<User, string[]> = { a: ['team-a'], b: ['team-b', 'team-c'] };
const password = (u: User): string => `${u}-gaps-pw`;

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('isolation-route-options');
let stack: Stack;
let pg: PromgateInstance;
/** The gateway of the unprotectedPaths test. */
let open: PromgateInstance | undefined;
let Ts = '';

before(async () => {
  if (skip) return;
  // Prometheus itself lives under /prometheus, as Mimir's Prometheus API does.
  stack = await startStack({ routePrefix: '/prometheus' });
  const users = [
    { username: 'a', namespace: 'team-a' },
    { username: 'b', namespaces: ['team-b', 'team-c'] },
  ].map((u) => ({ ...u, password: bcrypt.hashSync(password(u.username as User), 4) }));
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
  await open?.stop();
  await pg?.stop();
  await stack?.stop();
  tmp.remove();
});

interface Res {
  status: number;
  text: string;
  json: unknown;
}

async function call(
  user: User,
  path: string,
  o: { params?: [string, string][]; rawQuery?: string; body?: string; id?: string } = {},
): Promise<Res> {
  const qs = [new URLSearchParams(o.params ?? []).toString(), o.rawQuery ?? ''].filter((s) => s !== '').join('&');
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`${user}:${password(user)}`).toString('base64')}`,
  };
  if (o.id) headers['x-request-id'] = o.id;
  if (o.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const r = await request(`${pg.url}${path}${qs ? `?${qs}` : ''}`, {
    method: o.body === undefined ? 'GET' : 'POST',
    headers,
    body: o.body,
  });
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
  ok<{ result: Sample[] }>(
    await call(user, path, {
      params: [
        ['query', q],
        ['time', Ts],
      ],
    }),
    `${user} ${q}`,
  ).result;
async function direct<T>(path: string, params: [string, string][] = []): Promise<T> {
  const r = await request(`${stack.prom.base}${path}?${new URLSearchParams(params)}`);
  return ((await r.body.json()) as { data: T }).data;
}
const namespaces = (xs: readonly { metric?: Labels; labels?: Labels }[]): string[] =>
  [...new Set(xs.map((x) => (x.metric ?? x.labels ?? {}).namespace ?? '<none>'))].sort();
const alertKey = (l: Labels): string => `${l.alertname}/${l.namespace ?? '-'}`;

test(
  'apiPrefix: /prometheus/api/v1/query and series are enforced and forwarded with the prefix kept',
  { skip },
  async () => {
    for (const u of ['a', 'b'] as const) {
      assert.deepEqual(
        namespaces(await query(u, '/prometheus/api/v1/query', 'count by (namespace) (http_requests_total)')),
        NS[u],
        u,
      );
      const sum = await query(u, '/prometheus/api/v1/query', 'sum(http_requests_total)');
      const want = await direct<{ result: Sample[] }>('/api/v1/query', [
        ['query', `sum(http_requests_total{namespace=~"${NS[u].join('|')}"})`],
        ['time', Ts],
      ]);
      assert.deepEqual(
        sum.map((s) => s.value),
        want.result.map((s) => s.value),
        `${u}: its own total`,
      );
      // POST form under the prefix too.
      const posted = ok<{ result: Sample[] }>(
        await call(u, '/prometheus/api/v1/query', {
          body: `query=${encodeURIComponent('count by (namespace) (tenant_info)')}&time=${Ts}`,
        }),
        'POST',
      );
      assert.deepEqual(namespaces(posted.result), NS[u]);
    }
    const end = Ts;
    const start = (Number(Ts) - 60).toFixed(3);
    const series = ok<Labels[]>(
      await call('a', '/prometheus/api/v1/series', {
        params: [
          ['match[]', 'http_requests_total'],
          ['match[]', 'node_cpu_seconds_total'],
          ['start', start],
          ['end', end],
        ],
      }),
      'series',
    );
    assert.equal(series.length, seriesOf('http_requests_total', 'team-a').length);
    assert.ok(
      series.every((l) => l.namespace === 'team-a' && l.__name__ === 'http_requests_total'),
      JSON.stringify(series.slice(0, 3)),
    );
    const dflt = ok<Labels[]>(
      await call('b', '/prometheus/api/v1/series', {
        params: [
          ['start', start],
          ['end', end],
        ],
      }),
      'default match[]',
    );
    assert.ok(dflt.length > 0 && dflt.every((l) => NS.b.includes(l.namespace ?? '')), 'no match[]: the tenant alone');
    // The endpoint table is consulted below the apiPrefix: refusals and unknown paths still apply there.
    refused(await call('a', '/prometheus/api/v1/status/config'), 'PG_PATH_REFUSED', 'status/config under apiPrefix');
    assert.equal((await call('a', '/prometheus/api/v1/nope')).status, 404);
  },
);

test('apiPrefix: /prometheus/api/v1/rules and /alerts are filtered to the tenant', { skip }, async () => {
  interface Rule {
    name: string;
    type: string;
    alerts?: { labels: Labels }[];
  }
  const all = await direct<{ groups: { name: string; rules: Rule[] }[] }>('/api/v1/rules');
  assert.ok(
    all.groups.some((g) => g.name === 'infra'),
    'Prometheus has rules a must not see',
  );
  const rules = ok<{ groups: { name: string; rules: Rule[] }[] }>(await call('a', '/prometheus/api/v1/rules'), 'rules');
  const got = rules.groups.flatMap((g) =>
    g.rules.map(
      (r) =>
        `${g.name}/${r.name}${
          r.type === 'alerting'
            ? `[${(r.alerts ?? [])
                .map((x) => alertKey(x.labels))
                .sort()
                .join(',')}]`
            : ''
        }`,
    ),
  );
  assert.deepEqual(got.sort(), [
    'tenant-alerts/HighErrorRate[HighErrorRate/team-a]',
    'tenant-alerts/TeamAStatic[TeamAStatic/team-a]',
  ]);

  const every = (await direct<{ alerts: { labels: Labels }[] }>('/api/v1/alerts')).alerts;
  assert.ok(
    every.some((x) => x.labels.namespace !== 'team-a'),
    "Prometheus holds other tenants' alerts",
  );
  for (const u of ['a', 'b'] as const) {
    const alerts = ok<{ alerts: { labels: Labels }[] }>(
      await call(u, '/prometheus/api/v1/alerts'),
      `${u} alerts`,
    ).alerts;
    const want = every
      .filter((x) => NS[u].includes(x.labels.namespace ?? ''))
      .map((x) => alertKey(x.labels))
      .sort();
    assert.ok(want.length > 0, u);
    assert.deepEqual(alerts.map((x) => alertKey(x.labels)).sort(), want, u);
  }
});

test(
  "errorOnConflict: another tenant's namespace → 403 PG_ENFORCE_CONFLICT; without it → 200 and no data",
  { skip },
  async () => {
    for (const q of [
      'up{namespace="team-b"}',
      'sum(http_requests_total{namespace="team-b"})',
      'http_requests_total{namespace=~"team-[bc]"}',
    ]) {
      refused(
        await call('a', '/strict/api/v1/query', {
          params: [
            ['query', q],
            ['time', Ts],
          ],
        }),
        'PG_ENFORCE_CONFLICT',
        `strict ${q}`,
      );
      refused(
        await call('a', '/strict/api/v1/query', { body: `query=${encodeURIComponent(q)}` }),
        'PG_ENFORCE_CONFLICT',
        `strict POST ${q}`,
      );
      assert.deepEqual(await query('a', '/plain/api/v1/query', q), [], `plain ${q}`);
    }
    refused(
      await call('a', '/strict/api/v1/series', { params: [['match[]', '{namespace="team-b"}']] }),
      'PG_ENFORCE_CONFLICT',
      'strict series',
    );
    assert.deepEqual(
      ok(await call('a', '/plain/api/v1/series', { params: [['match[]', '{namespace="team-b"}']] }), 'plain series'),
      [],
    );
    // Queries that can match inside the tenant are still served on the strict route.
    assert.deepEqual(namespaces(await query('a', '/strict/api/v1/query', 'http_requests_total{namespace="team-a"}')), [
      'team-a',
    ]);
    assert.deepEqual(namespaces(await query('b', '/strict/api/v1/query', 'http_requests_total{namespace="team-b"}')), [
      'team-b',
    ]);
  },
);

test(
  'allowMetadata: /api/v1/metadata is served on the route that sets it, refused on one that does not',
  { skip },
  async () => {
    const meta = ok<Record<string, unknown[]>>(await call('a', '/meta/api/v1/metadata'), 'meta route');
    assert.ok('http_requests_total' in meta, Object.keys(meta).join());
    assert.deepEqual(
      Object.keys(meta).sort(),
      Object.keys(await direct<Record<string, unknown>>('/api/v1/metadata')).sort(),
      'passed through',
    );
    ok(
      await call('a', '/meta/api/v1/targets/metadata', { params: [['metric', 'http_requests_total']] }),
      'targets/metadata',
    );
    for (const path of ['/api/v1/metadata', '/api/v1/targets/metadata']) {
      refused(await call('a', `/plain${path}`), 'PG_PATH_REFUSED', `plain ${path}`);
      refused(await call('a', `/prometheus${path}`), 'PG_PATH_REFUSED', `mimir ${path}`);
    }
  },
);

test(
  "query given twice: both copies are rewritten, as the access log shows, and the answer is the tenant's",
  { skip },
  async () => {
    const cpu = 'sum(node_cpu_seconds_total)';
    const own = 'sum(http_requests_total)';
    const T = 'namespace="team-a"';
    const cases: { id: string; rawQuery: string; body?: string; logged: string }[] = [
      {
        id: 'gaps-twice',
        rawQuery: `query=${encodeURIComponent(cpu)}&query=${encodeURIComponent(own)}&time=${Ts}`,
        logged: `sum(node_cpu_seconds_total{${T}}) ; sum(http_requests_total{${T}})`,
      },
      {
        id: 'gaps-spelled',
        rawQuery: `%71uery=${encodeURIComponent(own)}&qu%65ry=${encodeURIComponent(cpu)}&time=${Ts}`,
        logged: `sum(http_requests_total{${T}}) ; sum(node_cpu_seconds_total{${T}})`,
      },
      {
        id: 'gaps-url-body',
        rawQuery: `query=${encodeURIComponent(cpu)}&time=${Ts}`,
        body: `query=${encodeURIComponent(own)}&query=up`,
        logged: `sum(node_cpu_seconds_total{${T}}) ; sum(http_requests_total{${T}}) ; up{${T}}`,
      },
    ];
    const aTotal = (await query('a', '/plain/api/v1/query', own)).map((s) => s.value[1]);
    assert.equal(aTotal.length, 1);
    for (const c of cases) {
      const r = await call('a', '/plain/api/v1/query', { rawQuery: c.rawQuery, body: c.body, id: c.id });
      const values = ok<{ result: Sample[] }>(r, c.id).result.map((s) => s.value[1]);
      // Whichever copy Prometheus evaluates is an enforced one: a's own total, or nothing (no CPU series is a's).
      assert.ok(
        values.length === 0 || (values.length === 1 && values[0] === aTotal[0]),
        `${c.id}: ${JSON.stringify(values)}`,
      );
      const line = await waitFor(() => pg.logLines().find((l) => l.reqId === c.id), {
        what: `access log ${c.id}`,
        timeoutMs: 3000,
      });
      assert.equal(line.query, c.logged, c.id);
      assert.equal(line.user, 'a', c.id);
    }
  },
);

/** The status of a GET, the body read and dropped. */
async function statusOf(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await request(base + path, { headers });
  await r.body.dump();
  return r.statusCode;
}

/** node:http sends the path as written; undici and fetch would resolve the dot segments first. */
function raw(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

test(
  'unprotected endpoints are exact paths: neighbours, prefixes and dot-segment tricks still need credentials',
  { skip },
  async () => {
    writeFileSync(
      tmp.file('open-users.yaml'),
      'users:\n  - username: alice\n    password: pw-3\n    namespace: team-a\n',
    );
    const p = (open = await startPromgate({
      configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, shutdownTimeout: 2s }
routes:
  - upstream: { url: ${JSON.stringify(stack.prom.base)} }
    unprotectedPaths: [/-/healthy, /api/v1/status/buildinfo]
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('open-users.yaml'))} }
`,
    }));

    const info = await request(`${p.url}/api/v1/status/buildinfo`);
    assert.equal(info.statusCode, 200);
    const j = (await info.body.json()) as { status: string; data: { version: string } };
    assert.equal(j.status, 'success', 'served by Prometheus without credentials');
    assert.ok(j.data.version);
    assert.equal(await statusOf(p.url, '/api/v1/status/buildinfo?x'), 200, 'a query string does not change the path');
    assert.equal(await statusOf(p.url, '/api/v1/status/buildinfo?x=1&y'), 200);

    for (const path of [
      '/api/v1/status/buildinfo/x',
      '/api/v1/status/buildinfoX',
      '/api/v1/status/buildinfo/',
      '/api/v1/status/buildinfo;x',
      '/api/v1/status/flags',
      '/api/v1/query?query=up',
    ]) {
      const r = await request(p.url + path);
      const body = (await r.body.json()) as { code?: string };
      assert.equal(r.statusCode, 401, `${path} needs credentials`);
      assert.equal(body.code, 'PG_AUTHN_REQUIRED', path);
      assert.match(String(r.headers['www-authenticate']), /^Basic /, path);
    }

    // Dot segments behind an unprotected prefix never reach the upstream: refused outright (400), like any
    // request target whose meaning could differ between promgate and Prometheus.
    for (const path of [
      '/-/healthy/../api/v1/query?query=up',
      '/api/v1/status/buildinfo/../../query?query=up',
      '/-/healthy/%2e%2e/api/v1/query?query=up',
      '/api/v1/status/buildinfo/..%2f..%2fquery?query=up',
    ]) {
      const r = await raw(p.url, path);
      assert.equal(r.status, 400, `${path}: got ${r.status} ${r.body}`);
      assert.equal((JSON.parse(r.body) as { code: string }).code, 'PG_BAD_REQUEST', path);
      assert.doesNotMatch(r.body, /"resultType"/, `${path} must not return query data`);
    }
    assert.match((await raw(p.url, '/-/healthy/../api/v1/query?query=up')).body, /dot segments are not allowed/);

    // With credentials the same query works, so the 401s above are about authentication, not routing.
    assert.equal(
      await statusOf(p.url, '/api/v1/query?query=up', {
        authorization: `Basic ${Buffer.from('alice:pw-3').toString('base64')}`,
      }),
      200,
    );
  },
);
