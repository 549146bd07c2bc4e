// Smoke test of the e2e harness itself: real Prometheus + Alertmanager with multi-tenant data, and the launcher.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import {
  TENANTS,
  TEAMS,
  RULES,
  createSilence,
  getAlerts,
  httpRequestsValue,
  httpStatus,
  isPortOpen,
  labelValues,
  liveCounts,
  makeTempDir,
  pidGone,
  promApi,
  promQuery,
  seriesOf,
  startPromgate,
  startStack,
  waitFor,
  type Stack,
} from './harness/index.js';

/** One stack for the whole file: Alertmanager, a route prefix and bench series, so every fixture option is covered. */
let main: Stack;

before(async () => {
  const t0 = Date.now();
  main = await startStack({ alertmanager: true, routePrefix: '/prometheus', benchSeries: 25 });
  console.log(`# harness: stack ready in ${Date.now() - t0} ms`);
});

after(async () => {
  await main?.stop();
});

const sorted = [...TENANTS].sort();

test('every tenant has http_requests_total series with its own values', async () => {
  const r = await promQuery(main.prom.base, 'count by (namespace) (http_requests_total)');
  assert.deepEqual(labelValues(r, 'namespace'), sorted);
  for (const s of r) assert.equal(s.value[1], '4');
  const a = await promQuery(main.prom.base, 'http_requests_total{namespace="team-a", pod="team-a-web-0", code="200"}');
  assert.equal(a.length, 1);
  const v = Number(a[0]!.value[1]);
  const n = v / 10 - 100;
  assert.ok(Number.isInteger(n) && n >= 0, `value ${v} is 10 × (100 + n)`);
  assert.equal(v, httpRequestsValue('team-a', 0, '200', n));
  assert.equal(a[0]!.metric.job, 'tenants');
  // Every tenant's total is k times team-a's at the same scrape (samples of one scrape share a timestamp).
  const sums = await promQuery(main.prom.base, 'sum by (namespace) (http_requests_total)');
  const byNs = Object.fromEntries(sums.map((s) => [s.metric.namespace, Number(s.value[1])]));
  TENANTS.forEach((ns, i) => assert.equal(byNs[ns], (i + 1) * byNs['team-a']!, ns));
});

test('tenant.d and tenantxd are distinct tenants; an unescaped regex would mix them', async () => {
  const exact = await promQuery(main.prom.base, 'count by (namespace) (http_requests_total{namespace="tenant.d"})');
  assert.deepEqual(labelValues(exact, 'namespace'), ['tenant.d']);
  const regex = await promQuery(main.prom.base, 'count by (namespace) (http_requests_total{namespace=~"tenant.d"})');
  assert.deepEqual(labelValues(regex, 'namespace'), ['tenant.d', 'tenantxd']);
});

test('infrastructure series have no namespace label; other families are present', async () => {
  const cpu = await promQuery(main.prom.base, 'node_cpu_seconds_total');
  assert.equal(cpu.length, 6);
  for (const s of cpu) assert.equal(s.metric.namespace, undefined);
  const info = await promQuery(main.prom.base, 'tenant_info');
  assert.deepEqual(Object.fromEntries(info.map((s) => [s.metric.namespace, s.metric.team])), TEAMS);
  assert.equal((await promQuery(main.prom.base, 'build_version')).length, 5);
  const buckets = await promQuery(main.prom.base, 'request_duration_seconds_bucket');
  assert.equal(buckets.length, seriesOf('request_duration_seconds_bucket').length);
  const q = await promQuery(
    main.prom.base,
    'histogram_quantile(0.5, sum by (namespace, le) (rate(request_duration_seconds_bucket[1m])))',
  );
  for (const s of q) assert.equal(Number(s.value[1]), 0.5);
});

test('the rules API lists recording and alerting rules, tenant and infrastructure', async () => {
  type Group = { name: string; rules: { name: string; type: string; labels?: Record<string, string> }[] };
  const { groups } = await promApi<{ groups: Group[] }>(main.prom.base, '/api/v1/rules');
  assert.deepEqual(groups.map((g) => g.name).sort(), [...RULES.groups].sort());
  const rules = groups.flatMap((g) => g.rules);
  const kind = (name: string) => rules.find((r) => r.name === name)?.type;
  assert.equal(kind(RULES.rate1m), 'recording');
  assert.equal(kind(RULES.teamBStatic), 'recording');
  assert.equal(kind(RULES.infraRecording), 'recording');
  assert.equal(kind(RULES.highErrorRate), 'alerting');
  assert.equal(kind(RULES.infraCpu), 'alerting');
  assert.equal(rules.find((r) => r.name === RULES.teamAStatic)?.labels?.namespace, 'team-a');
  const rec = await promQuery(main.prom.base, RULES.rate1m);
  assert.deepEqual(labelValues(rec, 'namespace'), sorted);
});

test('Prometheus fires HighErrorRate for every tenant, plus TeamAStatic and InfraCPU', async () => {
  type A = { state: string; labels: Record<string, string> };
  const { alerts } = await promApi<{ alerts: A[] }>(main.prom.base, '/api/v1/alerts');
  const firing = alerts.filter((a) => a.state === 'firing');
  assert.deepEqual(
    labelValues(
      firing.filter((a) => a.labels.alertname === 'HighErrorRate'),
      'namespace',
    ),
    sorted,
  );
  assert.equal(firing.find((a) => a.labels.alertname === 'TeamAStatic')?.labels.namespace, 'team-a');
  assert.equal(firing.find((a) => a.labels.alertname === 'InfraCPU')?.labels.namespace, undefined);
});

test('Alertmanager has the alerts of every tenant, and silences work', async () => {
  const am = main.am!;
  assert.deepEqual(labelValues(await getAlerts(am.url), 'namespace'), sorted);
  const id = await createSilence(am.url, { namespace: 'team-c', alertname: 'HighErrorRate' });
  assert.match(id, /^[0-9a-f-]{36}$/);
  await waitFor(
    async () => {
      const [a] = await getAlerts(am.url, ['namespace="team-c"', 'alertname="HighErrorRate"']);
      return a?.status.state === 'suppressed' && a.status.silencedBy.includes(id);
    },
    { what: 'team-c alert silenced', timeoutMs: 5000, procs: [am.proc] },
  );
});

test('Prometheus under a route prefix answers at <url>/prometheus/api/v1/query', async () => {
  const p = main.prom;
  assert.equal(p.base, `${p.url}/prometheus`);
  const res = await fetch(`${p.url}/prometheus/api/v1/query?query=count(bench_series)`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  assert.equal(body.data.result[0]?.value[1], '25');
  assert.equal(await httpStatus(`${p.url}/api/v1/query?query=up`), 404);
  assert.ok(p.scrapes() >= 2);
});

test('the promgate launcher substitutes {{PORT}}, parses JSON logs and reports early exits', async () => {
  const dir = makeTempDir('fake-promgate');
  const entry = dir.file('fake.mjs');
  writeFileSync(
    entry,
    `import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
const a = process.argv.slice(2);
const cfg = readFileSync(a[a.indexOf('--config') + 1], 'utf8');
const log = (o) => console.log(JSON.stringify({ level: 30, time: Date.now(), ...o }));
if (a[0] !== 'run' || cfg.includes('broken')) { log({ level: 50, msg: 'bad config' }); process.exit(2); }
const port = Number(/port: (\\d+)/.exec(cfg)[1]);
const srv = createServer((req, res) => { log({ msg: 'request', path: req.url }); res.end('ok'); });
srv.listen(port, '127.0.0.1', () => log({ msg: 'listening', port, env: process.env.FAKE_ENV }));
process.on('SIGTERM', () => { log({ msg: 'stopped' }); process.exit(0); });
`,
  );
  try {
    const pg = await startPromgate({ entry, configYaml: 'server:\n  port: {{PORT}}\n', env: { FAKE_ENV: 'yes' } });
    assert.equal(await httpStatus(`${pg.url}/-/healthy`), 200);
    const listening = pg.logLines().find((l) => l.msg === 'listening');
    assert.equal(listening?.port, pg.port);
    assert.equal(listening?.env, 'yes');
    assert.equal((await pg.stop()).code, 0);
    assert.ok(pg.logLines().some((l) => l.msg === 'stopped'));
    assert.ok(pidGone(pg.proc.pid));

    await assert.rejects(
      startPromgate({ entry, configYaml: 'broken: true\nport: {{PORT}}\n', timeoutMs: 3000 }),
      (err: Error) => /exited while waiting/.test(err.message) && /bad config/.test(err.message),
    );
    const failed = await startPromgate({
      entry,
      args: ['--listen=127.0.0.1:1'],
      configYaml: 'broken: true\n',
      waitHealthy: false,
    });
    assert.equal((await failed.waitExit()).code, 2);
  } finally {
    dir.remove();
  }
});

test('stop() ends every process, frees the ports and removes the temp dirs', async () => {
  const procs = [main.prom.proc, main.am!.proc];
  const dirs = [main.prom.dir, main.am!.dir];
  const ports = [main.prom.port, main.am!.port, main.expo.port];
  await main.stop();
  for (const p of procs) {
    assert.ok(p.exited(), `${p.name} exited`);
    assert.ok(pidGone(p.pid), `${p.name} pid ${p.pid} is gone`);
    assert.equal(p.exitInfo()?.code, 0, `${p.name} shut down cleanly on SIGTERM`);
  }
  for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed`);
  for (const port of ports) assert.equal(await isPortOpen(port), false, `port ${port} closed`);
  assert.deepEqual(liveCounts(), { children: 0, dirs: 0 });
});
