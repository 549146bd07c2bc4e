// Filters Prometheus /api/v1/rules answers to the caller's tenant (rules, their alerts, empty groups).
import type { DotMode } from '../../lib/re2.js';
import type { RestrictedTenant } from '../../tenancy/tenant.js';
import {
  badResponse,
  isObject,
  keepAlerts,
  labelsTest,
  readArray,
  readEnvelope,
  readLabels,
  type JsonObject,
  type LabelsTest,
} from './shape.js';

/**
 * `/api/v1/rules` (with or without `type`, `rule_name[]`, `rule_group[]`, `file[]`, `group_limit`,
 * `exclude_alerts`): keep a rule whose own labels satisfy the tenant, with its alerts reduced to the
 * tenant's; otherwise keep an alerting rule only for its alerts that satisfy the tenant. Groups left
 * without rules are dropped. Tenant regexes are read with the backend's dot `mode`. Every other field, including `data.groupNextToken`, passes untouched.
 */
export function filterRules(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): JsonObject {
  const env = readEnvelope(body, '/api/v1/rules');
  if (!env.ok) return env.body;
  const groups = readArray(env.data, 'groups', 'data.groups');
  const test = labelsTest(tenant, mode);
  const keptGroups: JsonObject[] = [];
  for (const g of groups) {
    if (!isObject(g)) throw badResponse('data.groups[] holds a non-object');
    const rules = readArray(g, 'rules', 'data.groups[].rules');
    const keptRules: JsonObject[] = [];
    let changed = false;
    for (const r of rules) {
      const kept = filterRule(r, test);
      if (kept) keptRules.push(kept);
      if (kept !== r) changed = true;
    }
    if (keptRules.length === 0) continue;
    keptGroups.push(changed ? { ...g, rules: keptRules } : g);
  }
  return { ...env.body, data: { ...env.data, groups: keptGroups } };
}

function filterRule(r: unknown, test: LabelsTest): JsonObject | undefined {
  if (!isObject(r)) throw badResponse('data.groups[].rules[] holds a non-object');
  const own = test(readLabels(r.labels, 'data.groups[].rules[].labels', true));
  const alerts = r.alerts;
  // Absent (recording rules) or null (Prometheus 3 `exclude_alerts=true` marshals a nil slice): decide
  // on the rule's own labels alone.
  if (alerts === undefined || alerts === null) return own ? r : undefined;
  if (!Array.isArray(alerts)) throw badResponse('data.groups[].rules[].alerts is not an array');
  const kept = keepAlerts(alerts, test, 'data.groups[].rules[].alerts[]');
  if (!own && kept.length === 0) return undefined;
  if (kept.length === alerts.length) return r;
  const out: JsonObject = { ...r, alerts: kept };
  // A rule's state is the most severe state of its alerts. Left as it was, "firing" would tell this
  // tenant that another tenant's alert fires, so it is recomputed from the alerts the caller sees.
  if (typeof r.state === 'string') out.state = ruleState(kept);
  return out;
}

const SEVERITY: ReadonlyMap<string, number> = new Map([
  ['inactive', 0],
  ['pending', 1],
  ['firing', 2],
]);

function ruleState(alerts: readonly unknown[]): string {
  let best = 'inactive';
  for (const a of alerts) {
    const s = isObject(a) && typeof a.state === 'string' ? a.state : '';
    if ((SEVERITY.get(s) ?? -1) > (SEVERITY.get(best) ?? 0)) best = s;
  }
  return best;
}
