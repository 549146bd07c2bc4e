// Alertmanager filter rendering checked against a real Alertmanager: the filters it gets select exactly the
// tenant's alerts, and enforced silences mute only them. The rendering itself: test/enforce/alertmanager.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alertmanagerFilters,
  enforceSilenceBody,
  filterAlertGroups,
  filterAmAlerts,
  filterSilences,
  silenceBelongsTo,
  silenceId,
} from '../../src/enforce/alertmanager.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';
import {
  MULTI,
  REGEX_D,
  TEAM_A,
  TENANT_D,
  TENANT_XD,
  TWO,
  WEIRD,
  WEIRD_MULTI,
  WEIRD_T,
} from '../enforce/alertmanager-tenants.js';
import { startAlertmanager, type AlertmanagerInstance } from './harness/alertmanager.js';

let am: AlertmanagerInstance;

async function call(path: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(`${am.url}${path}`, init);
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${res.status} ${text}\n${am.logs()}`);
  return text === '' ? undefined : JSON.parse(text);
}
const post = (path: string, body: unknown): Promise<unknown> =>
  call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const query = (t: RestrictedTenant): string =>
  new URLSearchParams(alertmanagerFilters(t).map((f): [string, string] => ['filter', f])).toString();
const names = (alerts: unknown[]): string[] =>
  alerts.map((a) => (a as { labels: Record<string, string> }).labels.alertname ?? '').sort();

before(async () => {
  am = await startAlertmanager();
  const alert = (alertname: string, labels: Record<string, string>): unknown => ({ labels: { alertname, ...labels } });
  await post('/api/v2/alerts', [
    alert('A', { namespace: 'team-a' }),
    alert('B', { namespace: 'tenant.d' }),
    alert('C', { namespace: 'tenantxd' }),
    alert('D', { namespace: 'team-b' }),
    alert('E', { namespace: WEIRD }),
    alert('F', {}),
    alert('G', { namespace: 'team-a', cluster: 'c2' }),
  ]);
});

after(async () => {
  await am?.stop();
});

const cases: [RestrictedTenant, string[]][] = [
  [TEAM_A, ['A', 'G']],
  [TENANT_D, ['B']],
  [TENANT_XD, ['C']],
  [MULTI, ['A', 'B', 'G']],
  [REGEX_D, ['B']],
  [WEIRD_T, ['E']],
  [WEIRD_MULTI, ['B', 'E']],
  [TWO, ['G']],
];
for (const [t, want] of cases) {
  test(`GET /api/v2/alerts with the filters of ${t.id}`, async () => {
    const alerts = await call(`/api/v2/alerts?${query(t)}`);
    assert.deepEqual(names(filterAmAlerts(alerts, t)), want);
    assert.deepEqual(names(alerts as unknown[]), want, 'upstream already filtered alone');
  });
}

test('GET /api/v2/alerts/groups with the filters, then filterAlertGroups', async () => {
  const groups = filterAlertGroups(await call(`/api/v2/alerts/groups?${query(MULTI)}`), MULTI);
  const all = groups.flatMap((g) => (g as { alerts: unknown[] }).alerts);
  assert.deepEqual(names(all), ['A', 'B', 'G']);
});

test("accepts enforced silences, which mute only the tenant's alerts and come back owned", async () => {
  const body = {
    matchers: [{ name: 'alertname', value: 'A|D', isRegex: true }],
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3600_000).toISOString(),
    createdBy: 'test',
    comment: 'promgate test',
  };
  const a = (await post('/api/v2/silences', enforceSilenceBody(body, TEAM_A))) as { silenceID: string };
  const bodyB = { ...body, matchers: [{ name: 'alertname', value: 'B', isRegex: false }] };
  const m = (await post('/api/v2/silences', enforceSilenceBody(bodyB, MULTI))) as { silenceID: string };
  const silences = await call('/api/v2/silences');
  const ids = (t: RestrictedTenant): string[] =>
    filterSilences(silences, t)
      .map((s) => (s as { id: string }).id)
      .sort();
  assert.deepEqual(ids(TEAM_A), [a.silenceID]);
  assert.deepEqual(ids(MULTI), [a.silenceID, m.silenceID].sort());
  assert.deepEqual(ids(TENANT_D), []);
  const one = await call(`/api/v2/silence/${silenceId(`/api/v2/silence/${m.silenceID}`)}`);
  assert.equal(silenceBelongsTo(one, MULTI), true);
  const state = Object.fromEntries(
    ((await call('/api/v2/alerts')) as { labels: { alertname: string }; status: { state: string } }[]).map((x) => [
      x.labels.alertname,
      x.status.state,
    ]),
  );
  assert.deepEqual([state.A, state.B, state.D], ['suppressed', 'suppressed', 'active']);
});
