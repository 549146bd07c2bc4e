// Grafana's Prometheus data source through promgate, against real Prometheus: the exact requests it sends, and answers it can use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { stringify } from 'yaml';
import { asymKey, jwks, sign, type TestKey } from '../authn/jwt-helpers.js';
import {
  makeTempDir,
  promgateBuilt,
  startPromgate,
  startStack,
  waitFor,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('grafana');
let stack: Stack;
let pg: PromgateInstance;
let key: TestKey;
const ISSUER = 'https://sso.example.test/realms/ops';

/** What Grafana's backend (pkg/promlib) puts on every call: Go's client asks for gzip; the rest identify the panel. */
const GRAFANA_HEADERS = {
  'user-agent': 'Grafana/11.3.0',
  'accept-encoding': 'gzip',
  'x-grafana-org-id': '1',
  'x-datasource-uid': 'promgate-team-a',
};
const QUERY_HEADERS = {
  ...GRAFANA_HEADERS,
  'x-dashboard-uid': 'tenant-overview',
  'x-panel-id': '2',
  'x-grafana-from-expr': 'true',
};

const basic = (user: string): string => `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** A Prometheus API envelope (data's shape depends on the endpoint). */
  json: { status: string; data: unknown; errorType?: string; error?: string; code?: string };
  text: string;
}

/** One request as Grafana sends it; POST bodies are url.Values.Encode() output: keys sorted, `+` for spaces. */
async function grafana(
  auth: Record<string, string>,
  method: 'GET' | 'POST',
  path: string,
  params: [string, string][],
  extra: Record<string, string> = GRAFANA_HEADERS,
): Promise<Answer> {
  const form = new URLSearchParams([...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toString();
  const headers: Record<string, string> = { ...extra, ...auth };
  let url = `${pg.url}${path}`;
  let body: string | undefined;
  if (method === 'POST') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = form;
  } else if (form) url += `?${form}`;
  const r = await request(url, { method, headers, body });
  let raw = Buffer.from(await r.body.arrayBuffer());
  if (r.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
  const text = raw.toString('utf8');
  assert.match(
    String(r.headers['content-type']),
    /^application\/json/,
    `${method} ${path}: Grafana parses JSON only; got ${r.headers['content-type']}: ${text.slice(0, 200)}`,
  );
  return { status: r.statusCode, headers: r.headers, json: JSON.parse(text) as Answer['json'], text };
}

function success<T>(a: Answer, what: string): T {
  assert.equal(a.status, 200, `${what}: HTTP ${a.status} ${a.text.slice(0, 300)}`);
  assert.equal(a.json.status, 'success', what);
  return a.json.data as T;
}

/** The same API call straight to Prometheus (no promgate), returning `data`. */
async function direct(path: string, params: [string, string][]): Promise<string[]> {
  const r = await request(`${stack.prom.base}${path}?${new URLSearchParams(params)}`);
  const j = (await r.body.json()) as { status: string; data: string[] };
  assert.equal(j.status, 'success');
  return j.data;
}
const nowS = (): number => Math.floor(Date.now() / 1000);

before(async () => {
  if (skip) return;
  stack = await startStack();
  key = await asymKey('RS256', 'grafana-test');
  writeFileSync(tmp.file('jwks.json'), JSON.stringify(jwks(key)));
  const users = [
    { username: 'team-a', password: bcrypt.hashSync('team-a-pw', 4), namespace: 'team-a' },
    { username: 'team-b', password: bcrypt.hashSync('team-b-pw', 4), namespace: 'team-b' },
  ];
  writeFileSync(tmp.file('users.yaml'), stringify({ users }));
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  - name: prometheus
    prefix: /
    upstream: { url: "${stack.prom.base}" }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))} }
  jwt: { jwks: ${JSON.stringify(tmp.file('jwks.json'))}, issuer: "${ISSUER}", audience: grafana }
`,
  });
  await waitFor(() => stack.prom.scrapes() >= 3, { what: '3 scrapes', procs: [stack.prom.proc] });
});

after(async () => {
  await pg?.stop();
  await stack?.stop();
  tmp.remove();
});

test('Save & test: the health check (POST and GET) and the buildinfo heuristics', { skip }, async () => {
  // promlib CheckHealth: instant query "1+1" at time 4 (the range 1s..4s), with the data source's HTTP method.
  for (const method of ['POST', 'GET'] as const) {
    const data = success<{ resultType: string; result: [number, string] }>(
      await grafana(
        { authorization: basic('team-a') },
        method,
        '/api/v1/query',
        [
          ['query', '1+1'],
          ['time', '4'],
        ],
        QUERY_HEADERS,
      ),
      `health ${method}`,
    );
    assert.deepEqual(data, { resultType: 'scalar', result: [4, '2'] });
  }
  // getHeuristics: no "features" means plain Prometheus (Mimir sets them).
  const info = success<{ version: string; features?: Record<string, string> }>(
    await grafana({ authorization: basic('team-a') }, 'GET', '/api/v1/status/buildinfo', []),
    'buildinfo',
  );
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.ok(!info.features || Object.keys(info.features).length === 0);
  // Without credentials the health check fails with an error Grafana can show.
  const denied = await grafana({}, 'POST', '/api/v1/query', [
    ['query', '1+1'],
    ['time', '4'],
  ]);
  assert.equal(denied.status, 401);
  assert.equal(denied.json.status, 'error');
  assert.equal(denied.json.errorType, 'unauthorized');
  assert.ok(denied.json.error && denied.json.error.length > 0, 'an error message for the UI');
});

test(
  'variables and the metric browser: labels, label values and series answer for the tenant only',
  { skip },
  async () => {
    const a = { authorization: basic('team-a') };
    const range: [string, string][] = [
      ['start', String(nowS() - 3600)],
      ['end', String(nowS())],
    ];
    // label_names() / the label browser: POST /api/v1/labels with start and end.
    // The oracle is Prometheus itself, asked directly with team-a's matcher written by hand.
    const labels = success<string[]>(await grafana(a, 'POST', '/api/v1/labels', range), 'labels');
    assert.deepEqual(labels, await direct('/api/v1/labels', [...range, ['match[]', '{namespace="team-a"}']]));
    assert.ok(labels.includes('namespace') && labels.includes('pod'));
    assert.ok(
      !labels.includes('cpu') && !labels.includes('mode'),
      'labels of shared infrastructure series stay hidden',
    );
    // label_values(namespace) and label_values(http_requests_total, pod): GET /api/v1/label/<name>/values.
    assert.deepEqual(
      success<string[]>(await grafana(a, 'GET', '/api/v1/label/namespace/values', range), 'namespace values'),
      ['team-a'],
    );
    assert.deepEqual(
      success<string[]>(
        await grafana(a, 'GET', '/api/v1/label/pod/values', [...range, ['match[]', 'http_requests_total']]),
        'pod values',
      ),
      ['team-a-web-0', 'team-a-web-1'],
    );
    // metrics(.*): the metric-name list.
    const names = success<string[]>(await grafana(a, 'GET', '/api/v1/label/__name__/values', range), 'metric names');
    assert.deepEqual(
      names,
      await direct('/api/v1/label/__name__/values', [...range, ['match[]', '{namespace="team-a"}']]),
    );
    assert.ok(names.includes('http_requests_total'));
    assert.ok(!names.includes('node_cpu_seconds_total'), 'a metric with no team-a series is not listed');
    // query_result / series lookups: POST /api/v1/series with match[], start, end.
    const series = success<Record<string, string>[]>(
      await grafana(a, 'POST', '/api/v1/series', [
        ['match[]', 'http_requests_total'],
        ['match[]', 'build_version'],
        ...range,
      ]),
      'series',
    );
    assert.ok(series.length > 0);
    for (const s of series) assert.equal(s.namespace, 'team-a', JSON.stringify(s));
    // query_result(query): an instant query POST, the result that the variable's regex then reads.
    const qr = success<{ result: { metric: Record<string, string> }[] }>(
      await grafana(
        a,
        'POST',
        '/api/v1/query',
        [
          ['query', 'count by (namespace) (http_requests_total)'],
          ['time', String(nowS())],
        ],
        QUERY_HEADERS,
      ),
      'query_result',
    );
    assert.deepEqual(
      qr.result.map((r) => r.metric),
      [{ namespace: 'team-a' }],
    );
  },
);

test(
  "a panel: POST query_range with Grafana's form fields and headers returns the tenant's matrix on the step grid",
  { skip },
  async () => {
    const end = nowS();
    const start = end - 300;
    const params: [string, string][] = [
      ['query', 'sum by (namespace, pod) (rate(http_requests_total[1m]))'],
      ['start', String(start)],
      ['end', String(end)],
      ['step', '15'],
      ['timeout', '30s'],
    ];
    for (const user of ['team-a', 'team-b']) {
      const data = success<{
        resultType: string;
        result: { metric: Record<string, string>; values: [number, string][] }[];
      }>(
        await grafana({ authorization: basic(user) }, 'POST', '/api/v1/query_range', params, QUERY_HEADERS),
        `query_range ${user}`,
      );
      assert.equal(data.resultType, 'matrix');
      assert.ok(data.result.length === 2, `${user}: two pods`);
      for (const s of data.result) {
        assert.equal(s.metric.namespace, user);
        for (const [t] of s.values) assert.equal((t - start) % 15, 0, 'points on the step grid Grafana asked for');
      }
    }
    // A panel that names another tenant's namespace gets nothing of it.
    const other = success<{ result: unknown[] }>(
      await grafana(
        { authorization: basic('team-a') },
        'POST',
        '/api/v1/query_range',
        [
          ['query', 'http_requests_total{namespace="team-b"}'],
          ['start', String(start)],
          ['end', String(end)],
          ['step', '15'],
        ],
        QUERY_HEADERS,
      ),
      'cross-tenant panel',
    );
    assert.deepEqual(other.result, []);
  },
);

test('metadata is refused with a JSON error Grafana tolerates, and leaks no metric name', { skip }, async () => {
  // The query editor fetches /api/v1/metadata for type hints and carries on without it when it fails.
  const r = await grafana({ authorization: basic('team-a') }, 'GET', '/api/v1/metadata', []);
  assert.equal(r.status, 403);
  assert.equal(r.json.status, 'error');
  assert.equal(r.json.errorType, 'forbidden');
  assert.equal(r.json.code, 'PG_PATH_REFUSED');
  assert.ok(!r.text.includes('node_cpu_seconds_total') && !r.text.includes('http_requests_total'));
});

test('Forward OAuth Identity and a service-account JWT: the bearer token decides the tenant', { skip }, async () => {
  // Forward OAuth Identity: the signed-in user's access token, and the ID token in X-ID-Token.
  const access = await sign(key, {
    iss: ISSUER,
    aud: 'grafana',
    sub: 'u-1',
    preferred_username: 'ann',
    namespaces: ['team-a'],
  });
  const idToken = await sign(key, { iss: ISSUER, aud: 'grafana', sub: 'u-1', email: 'ann@example.test' });
  const user = { authorization: `Bearer ${access}`, 'x-id-token': idToken };
  const q = success<{ result: { metric: Record<string, string> }[] }>(
    await grafana(
      user,
      'POST',
      '/api/v1/query',
      [
        ['query', 'count by (namespace) (http_requests_total)'],
        ['time', String(nowS())],
      ],
      QUERY_HEADERS,
    ),
    'forwarded identity',
  );
  assert.deepEqual(
    q.result.map((r) => r.metric),
    [{ namespace: 'team-a' }],
  );
  // A long-lived service-account token set as a custom Authorization header on the data source.
  const sa = await sign(
    key,
    { iss: ISSUER, aud: 'grafana', sub: 'system:serviceaccount:grafana:team-b-dashboards', namespaces: ['team-b'] },
    { exp: 3600 },
  );
  const b = success<string[]>(
    await grafana({ authorization: `Bearer ${sa}` }, 'GET', '/api/v1/label/namespace/values', []),
    'service account',
  );
  assert.deepEqual(b, ['team-b']);
  // A token Grafana forwards after it expired is refused as such, so Grafana can refresh and retry.
  const expired = await sign(key, { iss: ISSUER, aud: 'grafana', sub: 'u-1', namespaces: ['team-a'] }, { exp: -120 });
  const r = await grafana({ authorization: `Bearer ${expired}` }, 'POST', '/api/v1/query', [
    ['query', '1+1'],
    ['time', '4'],
  ]);
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'PG_AUTHN_TOKEN_EXPIRED');
});
