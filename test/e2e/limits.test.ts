// Query, rate and concurrency limits through a real promgate: refusals against real Prometheus, answers inside the limits unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import {
  makeTempDir,
  promgateBuilt,
  readAnswer,
  startPromgate,
  startStack,
  waitFor,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';
import { startStub, echoJson, type Stub } from './upstream-stub.js';

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('limits');
let stack: Stack;
let pg: PromgateInstance;
let echo: Stub;
let slow: Stub;
/** Requests the slow stub holds, in arrival order; answering one frees its slot in promgate. */
const held: { ns: string; res: ServerResponse }[] = [];
const inflight = { total: 0, max: 0, byNs: new Map<string, number>(), maxByNs: new Map<string, number>() };

const DAY = 86_400;
/** A fixed evaluation time a few seconds back, so direct and gateway answers see the same samples. */
let T = 0;

before(async () => {
  if (skip) return;
  stack = await startStack();
  echo = await startStub(echoJson);
  slow = await startStub((req: IncomingMessage, res: ServerResponse) => {
    // promgate's readiness and build-info probes go to the pool directly, past every limit: not part of what is counted.
    if (req.url?.startsWith('/-/ready') || req.url?.endsWith('/api/v1/status/buildinfo')) return void res.end('ok');
    const ns = /namespace="([^"]+)"/.exec(decodeURIComponent(req.url ?? ''))?.[1] ?? '?';
    inflight.total++;
    inflight.max = Math.max(inflight.max, inflight.total);
    const n = (inflight.byNs.get(ns) ?? 0) + 1;
    inflight.byNs.set(ns, n);
    inflight.maxByNs.set(ns, Math.max(inflight.maxByNs.get(ns) ?? 0, n));
    res.on('finish', () => {
      inflight.total--;
      inflight.byNs.set(ns, inflight.byNs.get(ns)! - 1);
    });
    held.push({ ns, res });
  });
  writeFileSync(
    tmp.file('users.yaml'),
    'users:\n  - {username: alice, password: alice-pw, namespace: team-a}\n  - {username: bob, password: bob-pw, namespace: team-b}\n  - {username: root, password: root-pw}\n',
  );
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, metricsTenantLabel: true }
routes:
  - name: prom
    prefix: /
    upstream: { url: "${stack.prom.base}" }
    authMethods: [basic]
  - name: limited
    prefix: /limited
    upstream: { url: "${stack.prom.base}" }
    authMethods: [basic]
  - name: anon
    prefix: /anon
    upstream: { url: "${stack.prom.base}" }
    authMethods: [anonymous]
  - name: echo
    prefix: /echo
    upstream: { url: "${echo.url}" }
    authMethods: [basic]
  - name: slow
    prefix: /slow
    upstream: { url: "${slow.url}" }
    authMethods: [basic]
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))}, allowPlaintext: true }
  anonymous: true
tenants:
  rules:
    - match: { users: [anonymous] }
      labels: { namespace: team-a }
    - match: { users: [root] }
      unrestricted: true
limits:
  query: { maxQueryRange: 7d, maxLookback: 60d, maxSelectorRange: 30d, maxSeriesRange: 7d }
  routes:
    limited:
      rate: { rate: 0.001, burst: 3 }
    anon:
      rate: { rate: 0.001, burst: 2 }
    echo:
      query: { queryTimeout: 30s }
    slow:
      concurrency: { route: 3, tenant: 2, queue: 4, queueTimeout: 1h }
`,
  });
  await waitFor(() => stack.prom.scrapes() >= 3, { what: '3 scrapes', procs: [stack.prom.proc] });
  T = Math.floor(Date.now() / 1000) - 2;
});

after(async () => {
  for (const h of held) h.res.end();
  await pg?.stop();
  await stack?.stop();
  await echo?.close();
  await slow?.close();
  tmp.remove();
});

const auth = (u: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${u}-pw`).toString('base64')}` });

async function get(base: string, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const r = await request(`${base}${path}?${new URLSearchParams(params)}`, { headers });
  return readAnswer(r);
}

interface Row {
  what: string;
  path: string;
  params: Record<string, string>;
  /** The same request as sent straight to Prometheus, with alice's tenant matcher written in by hand. */
  direct: Record<string, string>;
}
const range = (
  q: string,
  d: string,
  seconds: number,
  step: string,
): [Record<string, string>, Record<string, string>] => [
  { query: q, start: String(T - seconds), end: String(T), step },
  { query: d, start: String(T - seconds), end: String(T), step },
];
const at = (q: string, d: string): [Record<string, string>, Record<string, string>] => [
  { query: q, time: String(T) },
  { query: d, time: String(T) },
];

/** Built when called: T is only known once Prometheus has data. */
const refusedRows = (): (Row & { code: string; status: number; errorType: string })[] => [
  {
    what: '30-day query_range',
    path: '/api/v1/query_range',
    ...pair(range('sum(http_requests_total)', 'sum(http_requests_total{namespace="team-a"})', 30 * DAY, '1h')),
    code: 'PG_LIMIT_QUERY_RANGE',
    status: 422,
    errorType: 'execution',
  },
  {
    what: '1 s step over a day',
    path: '/api/v1/query_range',
    ...pair(range('up', 'up{namespace="team-a"}', DAY, '1')),
    code: 'PG_LIMIT_POINTS',
    status: 400,
    errorType: 'bad_data',
  },
  {
    what: 'rate(x[90d])',
    path: '/api/v1/query',
    ...pair(at('rate(http_requests_total[90d])', 'rate(http_requests_total{namespace="team-a"}[90d])')),
    code: 'PG_LIMIT_SELECTOR_RANGE',
    status: 422,
    errorType: 'execution',
  },
  {
    what: 'a subquery reaching past maxLookback',
    path: '/api/v1/query',
    ...pair(
      at(
        'max_over_time(http_requests_total[20d:1h] offset 45d)',
        'max_over_time(http_requests_total{namespace="team-a"}[20d:1h] offset 45d)',
      ),
    ),
    code: 'PG_LIMIT_LOOKBACK',
    status: 422,
    errorType: 'execution',
  },
  {
    what: 'series over a year',
    path: '/api/v1/series',
    params: { 'match[]': 'up', start: String(T - 365 * DAY), end: String(T) },
    direct: { 'match[]': 'up{namespace="team-a"}', start: String(T - 365 * DAY), end: String(T) },
    code: 'PG_LIMIT_SERIES_RANGE',
    status: 422,
    errorType: 'execution',
  },
];
const insideRows = (): Row[] => [
  {
    what: '6-day query_range',
    path: '/api/v1/query_range',
    ...pair(range('sum(http_requests_total)', 'sum(http_requests_total{namespace="team-a"})', 6 * DAY, '1h')),
  },
  {
    what: '1 s step over 2 hours',
    path: '/api/v1/query_range',
    ...pair(range('up', 'up{namespace="team-a"}', 7200, '1')),
  },
  {
    what: 'rate(x[20d])',
    path: '/api/v1/query',
    ...pair(at('rate(http_requests_total[20d])', 'rate(http_requests_total{namespace="team-a"}[20d])')),
  },
  {
    what: 'a subquery inside maxLookback',
    path: '/api/v1/query',
    ...pair(
      at(
        'max_over_time(http_requests_total[20d:1h] offset 30d) or http_requests_total',
        'max_over_time(http_requests_total{namespace="team-a"}[20d:1h] offset 30d) or http_requests_total{namespace="team-a"}',
      ),
    ),
  },
  {
    what: 'series over 6 days',
    path: '/api/v1/series',
    params: { 'match[]': 'up', start: String(T - 6 * DAY), end: String(T) },
    direct: { 'match[]': 'up{namespace="team-a"}', start: String(T - 6 * DAY), end: String(T) },
  },
];
function pair([params, direct]: [Record<string, string>, Record<string, string>]): {
  params: Record<string, string>;
  direct: Record<string, string>;
} {
  return { params, direct };
}

test("each request over a query limit is refused with its code, in Prometheus' error shape", { skip }, async () => {
  const REFUSED = refusedRows();
  for (const row of REFUSED) {
    const r = await get(pg.url, row.path, row.params, auth('alice'));
    assert.equal(r.status, row.status, `${row.what}: ${r.text}`);
    const j = r.json as { status: string; errorType: string; error: string; code: string };
    assert.equal(j.status, 'error', row.what);
    assert.equal(j.errorType, row.errorType, row.what);
    assert.equal(j.code, row.code, row.what);
  }
  // The points limit is Prometheus' own: it refuses the same request with the same status and words.
  const row = REFUSED[1]!;
  const direct = await get(stack.prom.base, row.path, row.direct);
  const mine = await get(pg.url, row.path, row.params, auth('alice'));
  assert.equal(direct.status, 400);
  assert.equal((mine.json as { error: string }).error.split(' (limit')[0], (direct.json as { error: string }).error);
  // An unrestricted identity is held to the same limits.
  assert.equal((await get(pg.url, REFUSED[2]!.path, REFUSED[2]!.params, auth('root'))).status, 422);
});

test(
  'the same requests inside the limits are answered exactly as Prometheus answers them for the tenant',
  { skip },
  async () => {
    // Control: without these the table above could pass against a gateway that refuses everything.
    for (const row of insideRows()) {
      const mine = await get(pg.url, row.path, row.params, auth('alice'));
      const direct = await get(stack.prom.base, row.path, row.direct);
      assert.equal(mine.status, 200, `${row.what}: ${mine.text}`);
      assert.deepEqual(mine.json, direct.json, row.what);
    }
  },
);

test(
  "Prometheus' timeout is set from queryTimeout: a longer client one is cut, in the form body when there is one",
  { skip },
  async () => {
    const r1 = await get(pg.url, '/echo/api/v1/query', { query: 'up', timeout: '5m' }, auth('alice'));
    const url1 = new URL((r1.json as { data: { url: string } }).data.url, 'http://x');
    assert.deepEqual(url1.searchParams.getAll('timeout'), ['30']);
    const r2 = await request(`${pg.url}/echo/api/v1/query?timeout=1h`, {
      method: 'POST',
      headers: { ...auth('alice'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=up&timeout=10m',
    });
    const d2 = ((await readAnswer(r2)).json as { data: { url: string; body: string } }).data;
    assert.deepEqual(new URL(d2.url, 'http://x').searchParams.getAll('timeout'), []);
    assert.deepEqual(new URLSearchParams(d2.body).getAll('timeout'), ['30']);
    const r3 = await get(pg.url, '/echo/api/v1/query', { query: 'up', timeout: '2s' }, auth('alice'));
    assert.deepEqual(
      new URL((r3.json as { data: { url: string } }).data.url, 'http://x').searchParams.getAll('timeout'),
      ['2s'],
      "a shorter one is the client's",
    );
  },
);

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await request(`${pg.url}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

test(
  "rate limit: the burst passes, then 429 with Retry-After in Prometheus' error shape; identities have their own buckets",
  { skip },
  async () => {
    const q = { query: 'up', time: String(T) };
    for (let i = 0; i < 3; i++)
      assert.equal((await get(pg.url, '/limited/api/v1/query', q, auth('alice'))).status, 200, `request ${i + 1}`);
    const r = await get(pg.url, '/limited/api/v1/query', q, auth('alice'));
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1, String(r.headers['retry-after']));
    assert.deepEqual(Object.keys(r.json as object).sort(), ['code', 'error', 'errorType', 'status']);
    assert.equal((r.json as { errorType: string }).errorType, 'too_many_requests');
    assert.equal((r.json as { code: string }).code, 'PG_RATE_LIMITED');
    assert.equal(
      (await get(pg.url, '/limited/api/v1/query', q, auth('bob'))).status,
      200,
      'bob has a bucket of his own',
    );
    assert.equal((await get(pg.url, '/api/v1/query', q, auth('alice'))).status, 200, 'another route is not limited');
    assert.equal(
      await metric('promgate_limit_rejections_total', 'route="limited",tenant="{namespace=\\"team-a\\"}",limit="rate"'),
      1,
    );
  },
);

test(
  'anonymous callers are limited by address: X-Forwarded-For from an untrusted peer does not buy a new bucket',
  { skip },
  async () => {
    const q = { query: 'up', time: String(T) };
    assert.equal((await get(pg.url, '/anon/api/v1/query', q, { 'x-forwarded-for': '198.51.100.1' })).status, 200);
    assert.equal((await get(pg.url, '/anon/api/v1/query', q, { 'x-forwarded-for': '198.51.100.2' })).status, 200);
    assert.equal((await get(pg.url, '/anon/api/v1/query', q, { 'x-forwarded-for': '198.51.100.3' })).status, 429);
  },
);

test(
  "concurrency: the upstream never sees more than the route's and the tenant's limits in flight; the queue is bounded",
  { skip },
  async () => {
    const calls: Promise<number>[] = [];
    const send = (user: string, i: number) =>
      calls.push(get(pg.url, '/slow/api/v1/query', { query: `up + ${i}` }, auth(user)).then((r) => r.status));
    // alice 5, bob 2: 3 in flight (alice 2, bob 1), 4 queued in arrival order.
    for (let i = 0; i < 5; i++) send('alice', i);
    await waitFor(() => held.length === 2, { what: 'alice at her tenant limit', procs: [pg.proc] });
    for (let i = 5; i < 7; i++) send('bob', i);
    await waitFor(() => held.length === 3, { what: 'the route at its limit', procs: [pg.proc] });
    await waitFor(async () => (await metric('promgate_inflight_requests', 'route="slow"')) === 3, {
      what: 'inflight gauge 3',
    });
    // The queue (4) is now full: alice's 3 waiting + bob's second. One more is refused at once.
    const over = await get(pg.url, '/slow/api/v1/query', { query: 'up + 99' }, auth('bob'));
    assert.equal(over.status, 503);
    assert.equal((over.json as { code: string }).code, 'PG_CONCURRENCY_UNAVAILABLE');
    assert.ok(over.headers['retry-after']);
    // Answer one held request at a time; each freed slot lets exactly one more through.
    let answered = 0;
    while (answered < 7) {
      const next = held.shift();
      if (!next) {
        await waitFor(() => held.length > 0, { what: 'the next queued request', procs: [pg.proc] });
        continue;
      }
      next.res.writeHead(200, { 'content-type': 'application/json' });
      next.res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
      answered++;
    }
    assert.deepEqual((await Promise.all(calls)).sort(), [200, 200, 200, 200, 200, 200, 200]);
    assert.equal(slow.received.filter((r) => r.url.includes('/api/v1/query')).length, 7);
    assert.equal(inflight.max, 3, 'route limit');
    assert.equal(inflight.maxByNs.get('team-a'), 2, 'tenant limit');
  },
);
