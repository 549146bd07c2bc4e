// Tests of the Prometheus response filters (rules, alerts, targets) on payloads captured from Prometheus 2.42.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filterAlerts, filterRules, filterTargets, isObject } from '../../src/enforce/filters/index.js';
import type { JsonObject } from '../../src/enforce/filters/index.js';
import { GatewayError } from '../../src/errors.js';
import type { LabelConstraint, RestrictedTenant } from '../../src/tenancy/tenant.js';
import { benchTenant, makeRulesBody } from '../../bench/filters.js';

// Captured verbatim from Prometheus 2.42.0 (Debian) with rules that fire one alert per namespace
// (team-a, tenant.d, tenantxd), a rule with a static team-a label and no alerts, and three targets.
const RULES_242 = String.raw`{"status":"success","data":{"groups":[{"name":"mixed","file":"rules.yml","rules":[{"state":"firing","name":"MultiTenant","query":"label_replace(vector(1), \"namespace\", \"team-a\", \"\", \"\") or label_replace(vector(2), \"namespace\", \"tenant.d\", \"\", \"\") or label_replace(vector(3), \"namespace\", \"tenantxd\", \"\", \"\")","duration":0,"keepFiringFor":0,"labels":{"severity":"warn"},"annotations":{"summary":"ns {{ $labels.namespace }}"},"alerts":[{"labels":{"alertname":"MultiTenant","namespace":"tenantxd","severity":"warn"},"annotations":{"summary":"ns tenantxd"},"state":"firing","activeAt":"2026-11-22T06:41:16.70284579Z","value":"3e+00"},{"labels":{"alertname":"MultiTenant","namespace":"team-a","severity":"warn"},"annotations":{"summary":"ns team-a"},"state":"firing","activeAt":"2026-11-22T06:41:16.70284579Z","value":"1e+00"},{"labels":{"alertname":"MultiTenant","namespace":"tenant.d","severity":"warn"},"annotations":{"summary":"ns tenant.d"},"state":"firing","activeAt":"2026-11-22T06:41:16.70284579Z","value":"2e+00"}],"health":"ok","evaluationTime":0.000840575,"lastEvaluation":"2026-11-22T06:41:20.703636701Z","type":"alerting"},{"name":"global:thing","query":"vector(1)","health":"ok","evaluationTime":0.000046358,"lastEvaluation":"2026-11-22T06:41:20.704483115Z","type":"recording"}],"interval":1,"limit":10,"evaluationTime":0.000907184,"lastEvaluation":"2026-11-22T06:41:20.703624262Z"},{"name":"team-a-static","file":"rules.yml","rules":[{"state":"inactive","name":"TeamAStatic","query":"vector(0) \u003e 1","duration":60,"keepFiringFor":0,"labels":{"namespace":"team-a","severity":"page"},"annotations":{"summary":"static team a"},"alerts":[],"health":"ok","evaluationTime":0.00020874,"lastEvaluation":"2026-11-22T06:41:20.809139403Z","type":"alerting"},{"name":"team_a:up","query":"vector(1)","labels":{"namespace":"team-a"},"health":"ok","evaluationTime":0.000091916,"lastEvaluation":"2026-11-22T06:41:20.809350156Z","type":"recording"}],"interval":1,"limit":0,"evaluationTime":0.000320435,"lastEvaluation":"2026-11-22T06:41:20.809124481Z"}]}}`;
const ALERTS_242 = String.raw`{"status":"success","data":{"alerts":[{"labels":{"alertname":"MultiTenant","namespace":"tenantxd","severity":"warn"},"annotations":{"summary":"ns tenantxd"},"state":"firing","activeAt":"2026-11-22T06:41:16.70284579Z","value":"3e+00"},{"labels":{"alertname":"MultiTenant","namespace":"team-a","severity":"warn"},"annotations":{"summary":"ns team-a"},"state":"firing","activeAt":"2026-11-22T06:41:16.70284579Z","value":"1e+00"},{"labels":{"alertname":"MultiTenant","namespace":"tenant.d","severity":"warn"},"annotations":{"summary":"ns tenant.d"},"state":"firing","activeAt":"2026-11-22T06:41:16.70284579Z","value":"2e+00"}]}}`;
const TARGETS_242 = String.raw`{"status":"success","data":{"activeTargets":[{"discoveredLabels":{"__address__":"127.0.0.1:19090","__metrics_path__":"/metrics","__scheme__":"http","__scrape_interval__":"1s","__scrape_timeout__":"1s","job":"self","namespace":"team-a"},"labels":{"instance":"127.0.0.1:19090","job":"self","namespace":"team-a"},"scrapePool":"self","scrapeUrl":"http://127.0.0.1:19090/metrics","globalUrl":"http://vm:19090/metrics","lastError":"","lastScrape":"0001-01-01T00:00:00Z","lastScrapeDuration":0,"health":"unknown","scrapeInterval":"1s","scrapeTimeout":"1s"},{"discoveredLabels":{"__address__":"127.0.0.1:19091","__metrics_path__":"/metrics","__scheme__":"http","__scrape_interval__":"1s","__scrape_timeout__":"1s","job":"self","namespace":"tenant.d"},"labels":{"instance":"127.0.0.1:19091","job":"self","namespace":"tenant.d"},"scrapePool":"self","scrapeUrl":"http://127.0.0.1:19091/metrics","globalUrl":"http://vm:19091/metrics","lastError":"","lastScrape":"0001-01-01T00:00:00Z","lastScrapeDuration":0,"health":"unknown","scrapeInterval":"1s","scrapeTimeout":"1s"}],"droppedTargets":[{"discoveredLabels":{"__address__":"127.0.0.1:19092","__metrics_path__":"/metrics","__scheme__":"http","__scrape_interval__":"1s","__scrape_timeout__":"1s","job":"dropme","namespace":"tenantxd"}}]}}`;

function tenant(id: string, ...constraints: LabelConstraint[]): RestrictedTenant {
  return { unrestricted: false, id, constraints };
}
const ns = (...values: string[]): LabelConstraint => ({ label: 'namespace', kind: 'values', values });
const TEAM_A = tenant('team-a', ns('team-a'));
const TENANT_D = tenant('tenant.d', ns('tenant.d'));
const TENANT_XD = tenant('tenantxd', ns('tenantxd'));
const MULTI = tenant('multi', ns('team-a', 'tenant.d'));
const REGEX_D = tenant('regex-d', { label: 'namespace', kind: 'regex', pattern: 'tenant\\..+' });
const OTHER_LABEL = tenant('cluster-x', { label: 'cluster', kind: 'values', values: ['x'] });

const parse = (s: string): unknown => JSON.parse(s);

function obj(v: unknown): JsonObject {
  assert.ok(isObject(v), 'expected an object');
  return v;
}
function arr(v: unknown): unknown[] {
  assert.ok(Array.isArray(v), 'expected an array');
  return v;
}

/** `group → rule → namespaces of the alerts kept` ('-' when the rule has no alerts field). */
function ruleView(body: JsonObject): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const g of arr(obj(body.data).groups)) {
    const rules: Record<string, string> = {};
    for (const r of arr(obj(g).rules)) {
      const a = obj(r).alerts;
      rules[String(obj(r).name)] = Array.isArray(a) ? a.map((x) => obj(obj(x).labels).namespace).join(',') : '-';
    }
    out[String(obj(g).name)] = rules;
  }
  return out;
}

function assertBadResponse(fn: () => unknown): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof GatewayError && e.code === 'PG_UPSTREAM_BAD_RESPONSE' && e.status === 502,
  );
}

describe('filterRules', () => {
  const cases: [string, RestrictedTenant, Record<string, Record<string, string>>][] = [
    [
      'team-a sees its static rules and only its alert of the shared rule',
      TEAM_A,
      {
        mixed: { MultiTenant: 'team-a' },
        'team-a-static': { TeamAStatic: '', 'team_a:up': '-' },
      },
    ],
    ['tenant.d does not see tenantxd (regex dot escaped)', TENANT_D, { mixed: { MultiTenant: 'tenant.d' } }],
    ['tenantxd does not see tenant.d', TENANT_XD, { mixed: { MultiTenant: 'tenantxd' } }],
    [
      'two-value tenant',
      MULTI,
      {
        mixed: { MultiTenant: 'team-a,tenant.d' },
        'team-a-static': { TeamAStatic: '', 'team_a:up': '-' },
      },
    ],
    ['regex tenant', REGEX_D, { mixed: { MultiTenant: 'tenant.d' } }],
    ['tenant on a label nothing carries sees nothing', OTHER_LABEL, {}],
  ];
  for (const [name, t, want] of cases) {
    it(name, () => assert.deepEqual(ruleView(filterRules(parse(RULES_242), t)), want));
  }

  it('keeps a rule with a static tenant label even with zero alerts, fields untouched', () => {
    const out = filterRules(parse(RULES_242), TEAM_A);
    const groups = arr(obj(out.data).groups);
    const original = arr(obj(obj(parse(RULES_242)).data).groups)[1];
    assert.deepEqual(groups[1], original);
  });

  it('keeps every other field of a reduced rule, group and envelope', () => {
    const out = filterRules(parse(RULES_242), TENANT_D);
    const rule = obj(arr(obj(arr(obj(out.data).groups)[0]).rules)[0]);
    assert.deepEqual(Object.keys(rule), [
      'state',
      'name',
      'query',
      'duration',
      'keepFiringFor',
      'labels',
      'annotations',
      'alerts',
      'health',
      'evaluationTime',
      'lastEvaluation',
      'type',
    ]);
    assert.equal(
      rule.query,
      'label_replace(vector(1), "namespace", "team-a", "", "") or label_replace(vector(2), "namespace", "tenant.d", "", "") or label_replace(vector(3), "namespace", "tenantxd", "", "")',
    );
    const group = obj(arr(obj(out.data).groups)[0]);
    assert.equal(group.limit, 10);
    assert.equal(group.interval, 1);
  });

  it('preserves unknown and Prometheus 3 fields (groupNextToken, keepFiringSince, future ones)', () => {
    const body = obj(parse(RULES_242));
    body.warnings = ['w'];
    body.infos = ['i'];
    const data = obj(body.data);
    data.groupNextToken = 'abc123';
    data.futureData = { x: 1 };
    const group = obj(arr(data.groups)[0]);
    group.futureGroup = true;
    const rule = obj(arr(group.rules)[0]);
    rule.futureRule = [1, 2];
    const alert = obj(arr(rule.alerts)[1]);
    alert.keepFiringSince = '2026-01-01T00:00:00Z';
    const out = filterRules(body, TEAM_A);
    assert.deepEqual(out.warnings, ['w']);
    assert.deepEqual(out.infos, ['i']);
    assert.equal(obj(out.data).groupNextToken, 'abc123');
    assert.deepEqual(obj(out.data).futureData, { x: 1 });
    const g = obj(arr(obj(out.data).groups)[0]);
    assert.equal(g.futureGroup, true);
    const r = obj(arr(g.rules)[0]);
    assert.deepEqual(r.futureRule, [1, 2]);
    assert.equal(obj(arr(r.alerts)[0]).keepFiringSince, '2026-01-01T00:00:00Z');
  });

  it('does not modify its input', () => {
    const body = parse(RULES_242);
    filterRules(body, TEAM_A);
    assert.deepEqual(body, parse(RULES_242));
  });

  it("recomputes a reduced rule's state from the alerts the caller sees", () => {
    const body = obj(parse(RULES_242));
    const rule = obj(arr(obj(arr(obj(body.data).groups)[0]).rules)[0]);
    obj(arr(rule.alerts)[1]).state = 'pending'; // team-a's alert; the others still fire
    const ruleOf = (t: RestrictedTenant): JsonObject =>
      obj(arr(obj(arr(obj(filterRules(body, t).data).groups)[0]).rules)[0]);
    assert.equal(ruleOf(TEAM_A).state, 'pending');
    assert.equal(ruleOf(TENANT_D).state, 'firing');
  });

  for (const alerts of [undefined, null] as const) {
    it(`decides on rule labels alone when alerts is ${String(alerts)} (exclude_alerts)`, () => {
      const body = obj(parse(RULES_242));
      for (const g of arr(obj(body.data).groups)) {
        for (const r of arr(obj(g).rules)) {
          if (alerts === undefined) delete obj(r).alerts;
          else if (obj(r).type === 'alerting') obj(r).alerts = null;
        }
      }
      assert.deepEqual(ruleView(filterRules(body, TEAM_A)), {
        'team-a-static': { TeamAStatic: '-', 'team_a:up': '-' },
      });
      assert.deepEqual(ruleView(filterRules(body, TENANT_D)), {});
    });
  }

  it('does not read labels through the prototype (constraint on "constructor")', () => {
    const t = tenant('proto', { label: 'constructor', kind: 'regex', pattern: '.+' });
    assert.deepEqual(ruleView(filterRules(parse(RULES_242), t)), {});
  });

  it('passes a Prometheus error envelope through unchanged', () => {
    const body = { status: 'error', errorType: 'bad_data', error: 'invalid parameter "type"' };
    assert.equal(filterRules(body, TEAM_A), body);
    assert.equal(filterAlerts(body, TEAM_A), body);
    assert.equal(filterTargets(body, TEAM_A), body);
  });

  const rule = (patch: JsonObject): unknown => ({
    status: 'success',
    data: { groups: [{ name: 'g', rules: [{ name: 'r', labels: { namespace: 'team-a' }, ...patch }] }] },
  });
  const malformed: [string, unknown][] = [
    ['null', null],
    ['a string', 'success'],
    ['an array', []],
    ['no status', { data: { groups: [] } }],
    ['unknown status', { status: 'partial', data: { groups: [] } }],
    ['no data', { status: 'success' }],
    ['data is an array', { status: 'success', data: [] }],
    ['groups missing', { status: 'success', data: {} }],
    ['groups not an array', { status: 'success', data: { groups: {} } }],
    ['group not an object', { status: 'success', data: { groups: ['g'] } }],
    ['rules not an array', { status: 'success', data: { groups: [{ name: 'g', rules: null }] } }],
    ['rule not an object', { status: 'success', data: { groups: [{ name: 'g', rules: [1] }] } }],
    ['rule labels an array', rule({ labels: ['namespace'] })],
    ['rule label value a number', rule({ labels: { namespace: 1 } })],
    ['alerts a string', rule({ alerts: 'none' })],
    ['alert without labels', rule({ alerts: [{ state: 'firing' }] })],
    ['alert labels with a null value', rule({ alerts: [{ labels: { namespace: null } }] })],
    ['alert not an object', rule({ alerts: [null] })],
  ];
  for (const [name, body] of malformed) {
    it(`throws PG_UPSTREAM_BAD_RESPONSE on a malformed body: ${name}`, () =>
      assertBadResponse(() => filterRules(body, TEAM_A)));
  }

  // How fast is measured by bench/filters.ts, never by a timed assertion here.
  it('filters 5,000 rules exactly', () => {
    // Groups cycle over team-a, team-b, tenant.d, tenantxd; the bench tenant is team-a + tenant.d.
    const groups = arr(obj(filterRules(makeRulesBody(500, 10, 1), benchTenant).data).groups);
    assert.equal(groups.length, 250);
    assert.equal(
      groups.reduce((n: number, g) => n + arr(obj(g).rules).length, 0),
      2500,
    );
  });
});

describe('filterAlerts', () => {
  const names = (t: RestrictedTenant): unknown[] =>
    arr(obj(filterAlerts(parse(ALERTS_242), t).data).alerts).map((a) => obj(obj(a).labels).namespace);
  it("keeps only the tenant's alerts", () => {
    assert.deepEqual(names(TEAM_A), ['team-a']);
    assert.deepEqual(names(TENANT_D), ['tenant.d']);
    assert.deepEqual(names(TENANT_XD), ['tenantxd']);
    assert.deepEqual(names(MULTI), ['team-a', 'tenant.d']);
    assert.deepEqual(names(REGEX_D), ['tenant.d']);
    assert.deepEqual(names(OTHER_LABEL), []);
  });
  it('preserves the envelope and the kept alerts untouched', () => {
    const body = obj(parse(ALERTS_242));
    body.warnings = ['w'];
    const out = filterAlerts(body, TEAM_A);
    assert.deepEqual(out.warnings, ['w']);
    assert.deepEqual(obj(out.data).alerts, [arr(obj(body.data).alerts)[1]]);
  });
  for (const [name, body] of [
    ['alerts missing', { status: 'success', data: {} }],
    ['alerts an object', { status: 'success', data: { alerts: {} } }],
    ['alert labels a string', { status: 'success', data: { alerts: [{ labels: 'namespace=team-a' }] } }],
    ['body undefined', undefined],
  ] as [string, unknown][]) {
    it(`throws PG_UPSTREAM_BAD_RESPONSE: ${name}`, () => assertBadResponse(() => filterAlerts(body, TEAM_A)));
  }
});

describe('filterTargets', () => {
  const view = (t: RestrictedTenant, body: unknown = parse(TARGETS_242)): [unknown[], unknown[]] => {
    const data = obj(filterTargets(body, t).data);
    return [
      arr(data.activeTargets).map((x) => obj(x).scrapeUrl),
      arr(data.droppedTargets).map((x) => obj(obj(x).discoveredLabels).__address__),
    ];
  };
  it('keeps active targets by labels and dropped targets by discoveredLabels', () => {
    assert.deepEqual(view(TEAM_A), [['http://127.0.0.1:19090/metrics'], []]);
    assert.deepEqual(view(TENANT_D), [['http://127.0.0.1:19091/metrics'], []]);
    assert.deepEqual(view(TENANT_XD), [[], ['127.0.0.1:19092']]);
    assert.deepEqual(view(MULTI), [['http://127.0.0.1:19090/metrics', 'http://127.0.0.1:19091/metrics'], []]);
    assert.deepEqual(view(REGEX_D), [['http://127.0.0.1:19091/metrics'], []]);
  });
  it('removes droppedTargetCounts and keeps Prometheus 3 and unknown fields', () => {
    const body = obj(parse(TARGETS_242));
    const data = obj(body.data);
    data.droppedTargetCounts = { self: 0, dropme: 1 };
    data.futureData = 'x';
    obj(arr(data.droppedTargets)[0]).scrapePool = 'dropme';
    const out = obj(filterTargets(body, TENANT_XD).data);
    assert.equal('droppedTargetCounts' in out, false);
    assert.equal(out.futureData, 'x');
    assert.equal(obj(arr(out.droppedTargets)[0]).scrapePool, 'dropme');
    assert.equal('droppedTargetCounts' in data, true, 'input untouched');
  });
  for (const [name, body] of [
    ['droppedTargets missing', { status: 'success', data: { activeTargets: [] } }],
    ['activeTargets null', { status: 'success', data: { activeTargets: null, droppedTargets: [] } }],
    [
      'active target without labels',
      { status: 'success', data: { activeTargets: [{ discoveredLabels: {} }], droppedTargets: [] } },
    ],
    [
      'dropped target without discoveredLabels',
      { status: 'success', data: { activeTargets: [], droppedTargets: [{ labels: {} }] } },
    ],
    ['target is a string', { status: 'success', data: { activeTargets: ['t'], droppedTargets: [] } }],
  ] as [string, unknown][]) {
    it(`throws PG_UPSTREAM_BAD_RESPONSE: ${name}`, () => assertBadResponse(() => filterTargets(body, TEAM_A)));
  }
});
