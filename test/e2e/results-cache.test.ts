// The opt-in results cache against real Prometheus: repeats are served from memory, time-aligned, and never across tenants.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
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
const tmp = makeTempDir('results-cache');
let stack: Stack;
let pg: PromgateInstance;

const USERS = { alice: 'team-a', bob: 'team-b' } as const;
type User = keyof typeof USERS;

before(async () => {
  if (skip) return;
  stack = await startStack();
  writeFileSync(
    tmp.file('users.yaml'),
    `users:\n${Object.entries(USERS)
      .map(([u, ns]) => `  - {username: ${u}, password: ${u}-pw, namespace: ${ns}}`)
      .join('\n')}\n`,
  );
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  - name: cached
    prefix: /
    upstream: { url: "${stack.prom.base}" }
    resultsCache: { ttl: 30s, instantAlign: 10s }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))}, allowPlaintext: true }
`,
  });
  await waitFor(() => stack.prom.scrapes() >= 3, { what: '3 scrapes', procs: [stack.prom.proc] });
});

after(async () => {
  await pg?.stop();
  await stack?.stop();
  tmp.remove();
});

interface Answer {
  status: number;
  cache: string | undefined;
  body: string;
  namespaces: string[];
}

async function ask(user: User, path: string, init: { method?: 'GET' | 'POST'; form?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`,
  };
  if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const r = await request(pg.url + path, { method: init.method ?? 'GET', headers, body: init.form });
  const body = await r.body.text();
  const json = JSON.parse(body) as { data?: { result?: { metric: Record<string, string> }[] } };
  const namespaces = [...new Set((json.data?.result ?? []).map((s) => s.metric.namespace ?? ''))].sort();
  return { status: r.statusCode, cache: r.headers['x-promgate-cache'] as string | undefined, body, namespaces };
}

/**
 * An evaluation time on a 10 s boundary plus an offset, a little in the future: Prometheus answers an instant
 * query there with the latest samples (5 m lookback), so the data of the first scrapes is enough.
 */
function aligned(offsetS: number): number {
  return Math.floor(Date.now() / 10_000) * 10 + 20 + offsetS;
}

const q = (expr: string, time: number): string => `/api/v1/query?query=${encodeURIComponent(expr)}&time=${time}`;

test(
  "a tenant's repeated query is served from the cache; another tenant asking the very same URL never is",
  { skip },
  async () => {
    const t = aligned(0);
    const url = q('sum by (namespace) (http_requests_total)', t);
    const a1 = await ask('alice', url);
    assert.equal(a1.status, 200);
    assert.equal(a1.cache, undefined, 'first ask: from Prometheus');
    assert.deepEqual(a1.namespaces, ['team-a']);
    const a2 = await ask('alice', url);
    assert.equal(a2.cache, 'hit', 'second ask: from the cache');
    assert.equal(a2.body, a1.body, 'the cached answer is byte for byte the answer');

    // bob sends the identical URL: he must get his own tenant's answer from Prometheus, never alice's entry.
    const b1 = await ask('bob', url);
    assert.equal(b1.cache, undefined, "bob's first ask is not a hit on alice's entry");
    assert.deepEqual(b1.namespaces, ['team-b']);
    assert.notEqual(b1.body, a1.body);
    const b2 = await ask('bob', url);
    assert.equal(b2.cache, 'hit');
    assert.deepEqual(b2.namespaces, ['team-b']);
    // And alice's entry still answers alice with team-a only.
    assert.deepEqual((await ask('alice', url)).namespaces, ['team-a']);
  },
);

test(
  'instant query times within one alignment window share an entry; the answer is for the aligned time',
  { skip },
  async () => {
    const t = aligned(1);
    const first = await ask('alice', q('count(http_requests_total)', t + 0.25));
    assert.equal(first.cache, undefined);
    const later = await ask('alice', q('count(http_requests_total)', t + 7.5));
    assert.equal(later.cache, 'hit', `t+0.25 and t+7.5 fall in the same 10 s window`);
    const direct = await request(
      `${stack.prom.base}/api/v1/query?query=${encodeURIComponent('count(http_requests_total{namespace="team-a"})')}&time=${t - 1}`,
    );
    const ref = (await direct.body.json()) as { data: { result: { value: [number, string] }[] } };
    const mine = JSON.parse(first.body) as { data: { result: { value: [number, string] }[] } };
    assert.equal(mine.data.result.length, 1);
    assert.equal(mine.data.result[0]?.value[0], t - 1, 'evaluated at the start of the window');
    assert.deepEqual(mine.data.result, ref.data.result);
  },
);

test(
  "query_range start and end are aligned to the step; POST forms (Grafana's default) are cached too",
  { skip },
  async () => {
    const end = aligned(2);
    const range = (start: number, stop: number) =>
      `query=${encodeURIComponent('rate(http_requests_total[1m])')}&start=${start}&end=${stop}&step=15`;
    const first = await ask('bob', `/api/v1/query_range?${range(end - 300, end)}`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.namespaces, ['team-b']);
    // Shifted by less than a step: the same aligned request.
    const shifted = await ask('bob', `/api/v1/query_range?${range(end - 300 + 0.4, end + 0.4)}`);
    assert.equal(shifted.cache, 'hit');
    const posted = await ask('bob', '/api/v1/query_range', { method: 'POST', form: range(end - 300 + 1, end + 1) });
    assert.equal(posted.cache, undefined, 'a POST form is its own entry');
    const again = await ask('bob', '/api/v1/query_range', { method: 'POST', form: range(end - 300 + 2, end + 2) });
    assert.equal(again.cache, 'hit');
    assert.equal(again.body, posted.body);
    assert.deepEqual(again.namespaces, ['team-b']);
    const alicePosts = await ask('alice', '/api/v1/query_range', {
      method: 'POST',
      form: range(end - 300 + 2, end + 2),
    });
    assert.equal(alicePosts.cache, undefined);
    assert.deepEqual(alicePosts.namespaces, ['team-a']);
  },
);

test('errors are not cached, and /metrics counts hits and misses', { skip }, async () => {
  const bad = q('sum(rate(http_requests_total[5m]) / on() group_left() vector(1)', aligned(3));
  const e1 = await ask('alice', bad);
  assert.equal(e1.status, 400);
  const e2 = await ask('alice', bad);
  assert.equal(e2.cache, undefined, 'a refused query is never a cache entry');
  // A query Prometheus itself refuses (not promgate): the 4xx answer is not stored either.
  const t = aligned(4);
  const upstreamBad = `/api/v1/query_range?query=up&start=${t}&end=${t - 100}&step=15`;
  assert.equal((await ask('alice', upstreamBad)).status, 400);
  assert.equal((await ask('alice', upstreamBad)).cache, undefined);
  const text = await (await request(`${pg.url}/metrics`)).body.text();
  const hits = Number(/promgate_cache_requests_total\{cache="results",result="hit"\} (\d+)/.exec(text)?.[1]);
  const misses = Number(/promgate_cache_requests_total\{cache="results",result="miss"\} (\d+)/.exec(text)?.[1]);
  assert.ok(hits >= 5, `hits counted: ${hits}`);
  assert.ok(misses >= 6, `misses counted: ${misses}`);
});
