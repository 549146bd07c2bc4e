// Property test: random PromQL through promgate equals Prometheus's answer to a reference rewrite, and never leaks another tenant's series.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { Pool } from 'undici';
import {
  makeTempDir,
  promgateBuilt,
  startPromgate,
  startStack,
  waitFor,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';
import { PromqlGen, absentNamesWrittenNamespace, mulberry32, render, selectors, type Node } from './promql-gen.js';

interface TenantCase {
  user: string;
  password: string;
  namespaces: readonly string[];
  /** The tenant matcher exactly as promgate renders it; written into every selector by the generator. */
  matcher: string;
}

const TENANT_CASES: readonly TenantCase[] = [
  { user: 'a', password: 'pw-a', namespaces: ['team-a'], matcher: 'namespace="team-a"' },
  { user: 'b', password: 'pw-b', namespaces: ['team-b', 'team-c'], matcher: 'namespace=~"team-b|team-c"' },
  { user: 'd', password: 'pw-d', namespaces: ['tenant.d'], matcher: 'namespace="tenant.d"' },
];

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  // promgate reads every PROMGATE_* variable as config and refuses unknown keys; keep ours from the child.
  delete process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${v}`);
  return n;
};
const SEED = envInt('PROMGATE_PROPERTY_SEED') ?? Math.floor(Math.random() * 2 ** 31);
const N = envInt('PROMGATE_PROPERTY_N') ?? 2000;
const CONCURRENCY = 8;
/** How many generated queries are also sent bare and unenforced, to prove the comparison can see a difference. */
const TEETH_SAMPLE = Math.min(N, 200);

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('property');
let stack: Stack;
let pg: PromgateInstance;
let viaGateway: Pool;
let direct: Pool;
/** The evaluation time of every query, fixed once the data is there (seconds, ms precision). */
let T = 0;

before(async () => {
  if (skip) return;
  stack = await startStack();
  const users = TENANT_CASES.map((t) => ({
    username: t.user,
    password: bcrypt.hashSync(t.password, 4),
    namespaces: t.namespaces,
  }));
  writeFileSync(tmp.file('users.yaml'), JSON.stringify({ users }));
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, logLevel: warn, accessLog: false }
routes:
  - name: prom
    prefix: /
    upstream: { url: "${stack.prom.base}", type: prometheus }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))} }
`,
  });
  viaGateway = new Pool(pg.url, { connections: CONCURRENCY });
  direct = new Pool(stack.prom.url, { connections: CONCURRENCY });
  // The stack is ready after two scrapes; rate(), offsets and @ need some history to say anything.
  await waitFor(() => stack.prom.scrapes() >= 10, { what: '10 scrapes', procs: [stack.prom.proc] });
  // One second back: every scrape and rule evaluation stamped at or before T has been appended.
  T = Math.floor(Date.now() - 1000) / 1000;
});

after(async () => {
  await viaGateway?.close();
  await direct?.close();
  await pg?.stop();
  await stack?.stop();
  tmp.remove();
});

interface Answer {
  status: number;
  errorType?: string;
  resultType?: string;
  /** Series sorted by labels (`[labels, points]`), or one pseudo-series for a scalar or string. */
  rows: [string, [number, string][]][];
  series: Record<string, string>[];
  raw: string;
}

interface Sent {
  path: '/api/v1/query' | '/api/v1/query_range';
  params: Record<string, string>;
  post: boolean;
}

function canonicalLabels(m: Record<string, string>): string {
  return JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Parse a Prometheus (or promgate) answer into something comparable. */
function toAnswer(status: number, raw: string): Answer {
  let body: { status?: string; errorType?: string; data?: { resultType: string; result: unknown } };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    return { status, errorType: 'not-json', rows: [], series: [], raw };
  }
  if (body.status !== 'success' || !body.data)
    return { status, errorType: body.errorType ?? 'missing', rows: [], series: [], raw };
  const { resultType, result } = body.data;
  if (resultType === 'vector' || resultType === 'matrix') {
    const list = result as { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
    const rows = list.map((r): [string, [number, string][]] => [canonicalLabels(r.metric), r.values ?? [r.value!]]);
    rows.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return { status, resultType, rows, series: list.map((r) => r.metric), raw };
  }
  return { status, resultType, rows: [['', [result as [number, string]]]], series: [], raw };
}

/**
 * Equal sample values. Go iterates maps in random order, so an aggregation over an aggregation can add
 * the same floats in another order from one evaluation to the next: allow a relative 1e-9.
 * "NaN" equals "NaN"; infinities and strings must match exactly.
 */
function sameValue(x: string, y: string): boolean {
  if (x === y) return true;
  const a = Number(x);
  const b = Number(y);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

function same(x: Answer, y: Answer): boolean {
  if (x.status !== y.status || x.errorType !== y.errorType || x.resultType !== y.resultType) return false;
  if (x.rows.length !== y.rows.length) return false;
  return x.rows.every(([labels, points], i) => {
    const [otherLabels, otherPoints] = y.rows[i]!;
    if (labels !== otherLabels || points.length !== otherPoints.length) return false;
    return points.every(([t, v], j) => t === otherPoints[j]![0] && sameValue(v, otherPoints[j]![1]));
  });
}

async function send(pool: Pool, s: Sent, auth?: string): Promise<Answer> {
  const form = new URLSearchParams(s.params).toString();
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (s.post) headers['content-type'] = 'application/x-www-form-urlencoded';
  const base = pool === direct ? stack.prom.base.slice(stack.prom.url.length) : '';
  const r = await pool.request({
    method: s.post ? 'POST' : 'GET',
    path: s.post ? `${base}${s.path}` : `${base}${s.path}?${form}`,
    headers,
    body: s.post ? form : undefined,
  });
  return toAnswer(r.statusCode, await r.body.text());
}

function basic(t: TenantCase): string {
  return `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}`;
}

function request(i: number, query: string): Sent {
  const post = i % 2 === 1;
  // One in five is a range query (GET and POST alike), over the last minute.
  if (i % 5 === 4) {
    return {
      path: '/api/v1/query_range',
      post,
      params: { query, start: (T - 60).toFixed(3), end: T.toFixed(3), step: '15' },
    };
  }
  return { path: '/api/v1/query', post, params: { query, time: T.toFixed(3) } };
}

/** Runs fn over 0..n-1 with at most `limit` calls in flight. */
async function pooled(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

function clip(s: string, max = 1500): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

test(`random PromQL through promgate equals the reference rewrite (seed ${SEED}, n ${N})`, { skip }, async () => {
  console.log(
    `property seed=${SEED} n=${N} time=${T.toFixed(3)} (PROMGATE_PROPERTY_SEED / PROMGATE_PROPERTY_N to override)`,
  );
  const gen = new PromqlGen(mulberry32(SEED), { time: T });
  const trees: Node[] = Array.from({ length: N }, () => gen.expr());
  // The reference must carry the tenant matcher in every selector the tree has, or it proves nothing.
  const MARK = '__pg_mark__="1"';
  for (const tree of trees) {
    const marked = render(tree, MARK).split(MARK).length - 1;
    assert.equal(marked, selectors(tree).length, `generator: ${render(tree)}`);
  }
  const differences: string[] = [];
  const leaks: string[] = [];
  const stats = {
    ok: 0,
    nonEmpty: 0,
    absentLabels: 0,
    errors: new Map<string, number>(),
    teethChecked: 0,
    teethDiffer: 0,
  };
  const t0 = Date.now();

  await pooled(N, CONCURRENCY, async (i) => {
    const tenant = TENANT_CASES[i % TENANT_CASES.length]!;
    const tree = trees[i]!;
    const bare = render(tree);
    const reference = render(tree, tenant.matcher);
    const [got, want, unenforced] = await Promise.all([
      send(viaGateway, request(i, bare), basic(tenant)),
      send(direct, request(i, reference)),
      i < TEETH_SAMPLE ? send(direct, request(i, bare)) : Promise.resolve(undefined),
    ]);
    if (!same(got, want)) {
      differences.push(
        `#${i} seed=${SEED} user=${tenant.user} ${request(i, '').path}\n  query:     ${bare}\n  reference: ${reference}\n` +
          `  promgate  (${got.status}): ${clip(got.raw)}\n  prometheus(${want.status}): ${clip(want.raw)}`,
      );
    }
    for (const m of got.series) {
      if (m.namespace !== undefined && !tenant.namespaces.includes(m.namespace)) {
        // absent() names the namespace the query wrote; Prometheus answers the reference the same way.
        if (absentNamesWrittenNamespace(bare, m.namespace, got.rows) && same(got, want)) {
          stats.absentLabels++;
          continue;
        }
        leaks.push(`#${i} seed=${SEED} user=${tenant.user} query=${bare} series=${JSON.stringify(m)}`);
      }
    }
    if (got.resultType !== undefined) {
      stats.ok++;
      if (got.rows.length > 0) stats.nonEmpty++;
    } else {
      const k = `${got.status} ${got.errorType}`;
      stats.errors.set(k, (stats.errors.get(k) ?? 0) + 1);
    }
    if (unenforced) {
      stats.teethChecked++;
      if (!same(unenforced, want)) stats.teethDiffer++;
    }
  });

  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(
    `${N} queries in ${secs} s: ${stats.ok} answered (${stats.nonEmpty} non-empty), ${stats.absentLabels} absent() answers naming a namespace the query wrote, errors ${JSON.stringify(Object.fromEntries(stats.errors))}`,
  );
  console.log(`unenforced control: ${stats.teethDiffer}/${stats.teethChecked} bare queries differ from the reference`);
  for (const d of differences.slice(0, 20)) console.log(d);
  for (const l of leaks.slice(0, 20)) console.log(`LEAK ${l}`);

  assert.equal(
    leaks.length,
    0,
    `${leaks.length} answers through promgate carry another tenant's namespace (seed ${SEED})`,
  );
  assert.equal(
    differences.length,
    0,
    `${differences.length} of ${N} queries differ from the reference rewrite (seed ${SEED}); first ones printed above`,
  );
  // The property must be able to fail: the generator has to reach real data, and skipping enforcement
  // must visibly change answers.
  assert.ok(stats.nonEmpty >= N * 0.25, `only ${stats.nonEmpty} of ${N} answers carry data; the generator is too weak`);
  if (TEETH_SAMPLE >= 50) {
    assert.ok(
      stats.teethDiffer >= stats.teethChecked * 0.15,
      `only ${stats.teethDiffer}/${stats.teethChecked} unenforced queries differ from the reference`,
    );
  }
});
