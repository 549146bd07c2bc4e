// Prevents a tenant `team-.*` from seeing rules, alerts, targets and silences of `team-x\nkube-system` on a backend whose `.` does not match "\n" (Prometheus 2, Alertmanager).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { configSchema } from '../../src/config/schema.js';
import { filterAmAlerts, silenceBelongsTo } from '../../src/enforce/alertmanager.js';
import { filterAlerts, filterRules, filterTargets } from '../../src/enforce/filters/index.js';
import type { DotMode } from '../../src/lib/re2.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { DotModeState, dotModeOfVersion } from '../../src/routes/dot-mode.js';
import { compileRoute, type CompiledRoute } from '../../src/routes/table.js';
import { Readiness } from '../../src/server/readiness.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';
import { createUpstream } from '../../src/upstream/pool.js';
import { startPromgate, waitFor, type PromgateProc } from '../e2e/harness/index.js';
import { startStub, type Stub } from '../e2e/upstream-stub.js';

const OTHER = 'team-x\nkube-system';
const TEAM: RestrictedTenant = Object.freeze({
  unrestricted: false,
  id: 't',
  constraints: Object.freeze([{ label: 'namespace', kind: 'regex', pattern: 'team-.*' }] as const),
});

const rulesBody = () => ({
  status: 'success',
  data: {
    groups: [
      {
        name: 'g',
        file: 'f',
        rules: [
          {
            name: 'Own',
            type: 'alerting',
            labels: { namespace: 'team-a' },
            alerts: [{ labels: { namespace: 'team-a' }, state: 'firing' }],
            state: 'firing',
          },
          {
            name: 'Other',
            type: 'alerting',
            labels: { namespace: OTHER },
            alerts: [{ labels: { namespace: OTHER }, state: 'firing' }],
            state: 'firing',
          },
          { name: 'record', type: 'recording', labels: { namespace: OTHER } },
        ],
      },
    ],
  },
});
const alertsBody = () => ({
  status: 'success',
  data: { alerts: [{ labels: { namespace: 'team-a' } }, { labels: { namespace: OTHER } }] },
});
const targetsBody = () => ({
  status: 'success',
  data: {
    activeTargets: [{ labels: { namespace: 'team-a' } }, { labels: { namespace: OTHER } }],
    droppedTargets: [{ discoveredLabels: { namespace: OTHER } }],
  },
});

/** Every namespace value left anywhere in a filtered answer. */
function namespaces(body: unknown): string[] {
  const out = new Set<string>();
  JSON.stringify(body, (k, v: unknown) => {
    if (k === 'namespace' && typeof v === 'string') out.add(v);
    return v;
  });
  return [...out].sort();
}

describe("filters read tenant regexes with the backend's dot mode", () => {
  const cases: [string, (mode: DotMode) => unknown][] = [
    ['/api/v1/rules', (m) => filterRules(rulesBody(), TEAM, m)],
    ['/api/v1/alerts', (m) => filterAlerts(alertsBody(), TEAM, m)],
    ['/api/v1/targets', (m) => filterTargets(targetsBody(), TEAM, m)],
    ['/api/v2/alerts (Alertmanager)', (m) => filterAmAlerts(alertsBody().data.alerts, TEAM, m)],
  ];
  for (const [name, run] of cases) {
    it(`${name}: Prometheus 2 / Alertmanager (plain) and not-yet-known (unknown) hide ${JSON.stringify(OTHER)}`, () => {
      assert.deepEqual(namespaces(run('plain')), ['team-a']);
      assert.deepEqual(namespaces(run('unknown')), ['team-a']);
    });
    it(`${name}: Prometheus 3 (dotall) shows it, as its queries do (the control)`, () => {
      assert.deepEqual(namespaces(run('dotall')), ['team-a', OTHER]);
    });
  }
  it("silence ownership: an equality matcher on the other namespace is not the tenant's on Alertmanager", () => {
    const silence = { matchers: [{ name: 'namespace', value: OTHER, isRegex: false, isEqual: true }] };
    assert.equal(silenceBelongsTo(silence, TEAM, 'plain'), false);
    assert.equal(silenceBelongsTo(silence, TEAM, 'unknown'), false);
    assert.equal(silenceBelongsTo(silence, TEAM, 'dotall'), true);
    assert.equal(
      silenceBelongsTo({ matchers: [{ name: 'namespace', value: 'team-a', isRegex: false }] }, TEAM, 'plain'),
      true,
    );
  });
  it('the default is the fail-closed reading', () => {
    assert.deepEqual(namespaces(filterRules(rulesBody(), TEAM)), ['team-a']);
  });
});

describe('the dot mode of a route', () => {
  it('from a Prometheus build info version', () => {
    const table: [unknown, DotMode][] = [
      ['2.42.0+ds', 'plain'],
      ['2.53.1', 'plain'],
      ['v2.55.0', 'plain'],
      ['1.8.2', 'plain'],
      ['3.0.0', 'dotall'],
      ['3.5.0-rc.0', 'dotall'],
      ['v3.1.0', 'dotall'],
      ['10.0.0', 'dotall'],
      ['', 'unknown'],
      ['main', 'unknown'],
      ['0.1.0', 'unknown'],
      ['3', 'unknown'],
      [undefined, 'unknown'],
      [3, 'unknown'],
      [null, 'unknown'],
    ];
    for (const [version, mode] of table) assert.equal(dotModeOfVersion(version), mode, String(version));
  });

  it('from the route type and regexDotAll', () => {
    const state = (type: 'prometheus' | 'alertmanager' | 'thanos' | 'mimir', regexDotAll: 'auto' | boolean) =>
      new DotModeState({ type, regexDotAll });
    assert.deepEqual([state('prometheus', 'auto').current(), state('prometheus', 'auto').probes], ['unknown', true]);
    assert.deepEqual([state('alertmanager', 'auto').current(), state('alertmanager', 'auto').probes], ['plain', false]);
    assert.deepEqual([state('thanos', 'auto').current(), state('mimir', 'auto').probes], ['unknown', false]);
    assert.deepEqual(
      [state('mimir', true).current(), state('prometheus', false).current(), state('prometheus', true).probes],
      ['dotall', 'plain', false],
    );
    const fixed = state('prometheus', false);
    fixed.observe('dotall');
    assert.equal(fixed.current(), 'plain', 'an explicit setting is never overridden by a probe');
  });

  it('a change of version is believed only when two probes agree; in between, unknown', () => {
    const s = new DotModeState({ type: 'prometheus', regexDotAll: 'auto' });
    const seen: DotMode[] = [];
    for (const m of ['plain', 'plain', 'dotall', 'dotall', 'plain', 'unknown', 'unknown', 'plain'] as const) {
      s.observe(m);
      seen.push(s.current());
    }
    assert.deepEqual(seen, ['plain', 'plain', 'unknown', 'dotall', 'unknown', 'unknown', 'unknown', 'unknown']);
    s.observe('plain');
    assert.equal(s.current(), 'plain');
  });
});

describe('readiness checks read the version from /api/v1/status/buildinfo', () => {
  let stub: Stub;
  let version: string | undefined = '2.42.0+ds';
  let status = 200;
  before(async () => {
    stub = await startStub((req, res) => {
      if (req.url?.endsWith('/api/v1/status/buildinfo') && version !== undefined) {
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'success', data: { version, revision: 'x', branch: 'x' } }));
      } else {
        res.writeHead(req.url === '/-/ready' || req.url === '/base/-/ready' ? 200 : 404).end();
      }
    });
  });
  after(() => stub?.close());

  const routeOf = (upstream: Record<string, unknown>, extra: Record<string, unknown> = {}): CompiledRoute => {
    const cfg = configSchema.parse({
      routes: [{ upstream: { url: stub.url, ...upstream }, ...extra }],
      auth: { anonymous: true },
    }).routes[0]!;
    return compileRoute(cfg, createUpstream(cfg.upstream));
  };

  it('sets, changes and loses the mode with what the upstream answers', async () => {
    const route = routeOf({});
    const readiness = new Readiness(createMetrics(), 3_600_000);
    try {
      assert.equal(route.dotMode.current(), 'unknown', 'before the first probe: fail closed');
      version = '2.42.0+ds';
      await readiness.track([route]);
      assert.equal(route.dotMode.current(), 'plain');
      version = '3.2.1';
      await readiness.check();
      assert.equal(route.dotMode.current(), 'unknown');
      await readiness.check();
      assert.equal(route.dotMode.current(), 'dotall');
      status = 503;
      await readiness.check();
      assert.equal(route.dotMode.current(), 'unknown', 'a failed probe shows less');
      status = 200;
      version = 'not a version';
      await readiness.check();
      await readiness.check();
      assert.equal(route.dotMode.current(), 'unknown');
    } finally {
      readiness.stop();
      await route.upstream.close();
      version = '2.42.0+ds';
      status = 200;
    }
  });

  it('asks under the upstream path and apiPrefix; Alertmanager and explicit routes are never asked', async () => {
    stub.probes.length = 0;
    const prefixed = routeOf({ url: `${stub.url}/base`, readyPath: '/-/ready' }, { apiPrefix: '/prometheus' });
    const am = routeOf({ type: 'alertmanager' }, { prefix: '/am' });
    const fixed = routeOf({ regexDotAll: true }, { prefix: '/fixed' });
    const readiness = new Readiness(createMetrics(), 3_600_000);
    try {
      await readiness.track([prefixed, am, fixed]);
      const asked = stub.probes.map((r) => r.url);
      assert.deepEqual(asked, ['/base/prometheus/api/v1/status/buildinfo']);
      assert.deepEqual([am.dotMode.current(), fixed.dotMode.current()], ['plain', 'dotall']);
    } finally {
      readiness.stop();
      await Promise.all([prefixed, am, fixed].map((r) => r.upstream.close()));
    }
  });
});

describe('through the gateway: the version reaches the rules filter', () => {
  let stub: Stub;
  let pg: PromgateProc;
  let version = '2.42.0';
  before(async () => {
    stub = await startStub((req, res) => {
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/api/v1/status/buildinfo') json({ status: 'success', data: { version } });
      else if (req.url?.startsWith('/api/v1/rules')) json(rulesBody());
      else res.writeHead(200).end();
    });
    pg = await startPromgate({
      configYaml: `server: {host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 50ms, accessLog: false}
routes:
  - upstream: {url: "${stub.url}"}
auth: {anonymous: true}
tenants: {rules: [{regex: {namespace: "team-.*"}}]}
`,
    });
  });
  after(async () => {
    await pg?.stop();
    await stub?.close();
  });

  const rules = async (): Promise<string[]> => {
    const r = await request(`${pg.url}/api/v1/rules`);
    assert.equal(r.statusCode, 200);
    return namespaces(await r.body.json());
  };
  const probes = () => stub.probes.filter((r) => r.url === '/api/v1/status/buildinfo').length;

  it('Prometheus 2: hidden; upgraded to 3: shown; back to 2: hidden again', async () => {
    // Two probes of 2.42 have answered: the mode is settled on plain.
    await waitFor(() => probes() >= 3, { what: 'three buildinfo probes', procs: [pg.proc] });
    assert.deepEqual(await rules(), ['team-a']);
    version = '3.1.0';
    await waitFor(async () => (await rules()).includes(OTHER), {
      what: 'the newline namespace shown once the upstream reports 3.x',
      procs: [pg.proc],
    });
    version = '2.53.0';
    await waitFor(async () => !(await rules()).includes(OTHER), {
      what: 'hidden again once the upstream reports 2.x',
      procs: [pg.proc],
    });
  });
});
