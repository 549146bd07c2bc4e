// promgate's own dashboard and alerts: every metric they reference is one promgate exports (scraped live), and promtool checks and unit-tests the rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Identifier, parser, VectorSelector } from '@prometheus-io/lezer-promql';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import {
  makeTempDir,
  REPO_ROOT,
  startPromgate,
  waitFor,
  type PromgateInstance,
  type TempDir,
} from '../e2e/harness/index.js';

const PROMTOOL = process.env.PROMGATE_E2E_PROMTOOL ?? '/usr/bin/promtool';
const DASHBOARD = join(REPO_ROOT, 'deploy/grafana/promgate-dashboard.json');
const ALERTS = join(REPO_ROOT, 'deploy/prometheus/alerts.yaml');

/** Metric names of every vector selector in a PromQL expression (Grafana's variables replaced first). */
function metricNames(expr: string): string[] {
  const text = expr.replace(/\$__(rate_interval|interval|range)/g, '5m');
  const tree = parser.parse(text);
  const names: string[] = [];
  const c = tree.cursor();
  do {
    if (c.type.isError) assert.fail(`not PromQL: ${expr}`);
    if (c.type.id === VectorSelector) {
      const s = c.node.getChild(Identifier);
      if (s) names.push(text.slice(s.from, s.to));
    }
  } while (c.next());
  return names;
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { query?: { query: string } | string }[] };
  annotations: { list: { expr?: string }[] };
}

function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const out: string[] = [];
  const walk = (ps: Panel[]) =>
    ps.forEach((p) => {
      for (const t of p.targets ?? []) out.push(t.expr);
      walk(p.panels ?? []);
    });
  walk(d.panels);
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = q && /^label_values\((.+),\s*\w+\)$/.exec(q);
    if (m) out.push(m[1]!);
  }
  for (const a of d.annotations.list) if (a.expr) out.push(a.expr);
  return out;
}

function alertExprs(): string[] {
  const doc = parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

/** Every series name a scrape of promgate can carry: sample lines, and TYPE lines with their suffixes. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const t = /^# TYPE (\S+) (\w+)/.exec(line);
    if (t) {
      names.add(t[1]!);
      if (t[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(t[1]! + s);
      if (t[2] === 'summary') for (const s of ['_sum', '_count']) names.add(t[1]! + s);
    } else if (/^[a-zA-Z_:]/.test(line)) names.add(line.split(/[{ ]/)[0]!);
  }
  return names;
}

let pg: PromgateInstance;
let upstream: Server;
let tmp: TempDir;
let exposition = '';

before(async () => {
  tmp = makeTempDir('monitoring');
  upstream = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const a = upstream.address();
  const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  pg = await startPromgate({
    configPath: tmp.file('promgate.yaml'),
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 200ms }
routes:
  - name: prom
    prefix: /
    upstream: { url: "${url}" }
    resultsCache: { ttl: 5s }
auth:
  anonymous: true
  basic: { usersFile: ${JSON.stringify(join(REPO_ROOT, 'examples/users.yaml'))} }
tenants:
  rules:
    - match: { users: [anonymous] }
      labels: { namespace: team-a }
`,
  });
  // Traffic that feeds each family: requests, a cache hit, an auth failure, a reload.
  for (let i = 0; i < 2; i++) await (await request(`${pg.url}/api/v1/query?query=up&time=1`)).body.dump();
  await (
    await request(`${pg.url}/api/v1/query?query=up`, {
      headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` },
    })
  ).body.dump();
  pg.proc.kill('SIGHUP');
  await waitFor(
    async () =>
      (await (await request(`${pg.url}/metrics`)).body.text()).includes(
        'promgate_config_reloads_total{source="config",result="success"}',
      ),
    { what: 'a counted reload', procs: [pg.proc] },
  );
  exposition = await (await request(`${pg.url}/metrics`)).body.text();
});

after(async () => {
  await pg?.stop();
  upstream?.close();
  tmp?.remove();
});

test('the metric-name extractor reads PromQL, so an unknown name would be caught', () => {
  assert.deepEqual(
    metricNames('sum by (route) (rate(promgate_nope_total{job=~"$job"}[$__rate_interval])) / on() group_left up'),
    ['promgate_nope_total', 'up'],
  );
  assert.ok(!exportedNames(exposition).has('promgate_nope_total'));
});

test('the dashboard references only metrics promgate exports, and covers each of its families', () => {
  const exported = exportedNames(exposition);
  const used = new Set(dashboardExprs().flatMap(metricNames));
  assert.ok(used.size > 5);
  for (const name of used) assert.ok(exported.has(name), `dashboard uses ${name}, which promgate does not export`);
  for (const family of [
    'promgate_requests_total',
    'promgate_request_duration_seconds_bucket',
    'promgate_auth_failures_total',
    'promgate_config_reloads_total',
    'promgate_config_last_reload_successful',
    'promgate_cache_requests_total',
    'promgate_upstream_up',
    'promgate_upstream_errors_total',
    'promgate_limit_rejections_total',
    'promgate_inflight_requests',
    'promgate_circuit_state',
    'promgate_upstream_retries_total',
    'promgate_limit_store_failures_total',
  ]) {
    assert.ok(used.has(family), `the dashboard shows ${family}`);
  }
  // The families really carry samples after that traffic (not just HELP lines).
  for (const sample of [
    'promgate_requests_total{',
    'promgate_request_duration_seconds_bucket{',
    'promgate_auth_failures_total{',
    'promgate_cache_requests_total{cache="results",result="hit"}',
    'promgate_upstream_up{route="prom"}',
  ]) {
    assert.ok(exposition.includes(sample), `${sample} in /metrics`);
  }
});

test("alerts.yaml references only metrics promgate exports (and Prometheus's own up)", () => {
  const exported = exportedNames(exposition);
  for (const name of new Set(alertExprs().flatMap(metricNames)))
    assert.ok(name === 'up' || exported.has(name), `alerts use ${name}, which promgate does not export`);
});

test('promtool check rules and promtool test rules pass', () => {
  const check = spawnSync(PROMTOOL, ['check', 'rules', ALERTS], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /SUCCESS: \d+ rules found/);
  const unit = spawnSync(PROMTOOL, ['test', 'rules', 'alerts.test.yaml'], {
    cwd: join(REPO_ROOT, 'deploy/prometheus'),
    encoding: 'utf8',
  });
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);
});
