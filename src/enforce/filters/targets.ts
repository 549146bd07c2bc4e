// Filters Prometheus /api/v1/targets answers to the caller's tenant (active and dropped targets).
import type { DotMode } from '../../lib/re2.js';
import type { RestrictedTenant } from '../../tenancy/tenant.js';
import {
  badResponse,
  isObject,
  labelsTest,
  readArray,
  readEnvelope,
  readLabels,
  type JsonObject,
  type LabelsTest,
} from './shape.js';

/**
 * `/api/v1/targets` (any `state`, any `scrapePool`): keep active targets whose target `labels` satisfy
 * the tenant and dropped targets whose `discoveredLabels` do (a dropped target has no target labels).
 */
export function filterTargets(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): JsonObject {
  const env = readEnvelope(body, '/api/v1/targets');
  if (!env.ok) return env.body;
  const test = labelsTest(tenant, mode);
  const active = keepBy(readArray(env.data, 'activeTargets', 'data.activeTargets'), 'labels', test);
  const dropped = keepBy(readArray(env.data, 'droppedTargets', 'data.droppedTargets'), 'discoveredLabels', test);
  // `droppedTargetCounts` (newer Prometheus, 3.x included) counts the dropped targets of every scrape
  // pool over all tenants, so it tells the caller how many targets other tenants have. It cannot be
  // recomputed either: Prometheus keeps only `keep_dropped_targets` of them in `droppedTargets`.
  const { droppedTargetCounts: _counts, ...rest } = env.data;
  return { ...env.body, data: { ...rest, activeTargets: active, droppedTargets: dropped } };
}

function keepBy(targets: readonly unknown[], field: 'labels' | 'discoveredLabels', test: LabelsTest): unknown[] {
  const kept: unknown[] = [];
  for (const t of targets) {
    if (!isObject(t)) throw badResponse('a target is not an object');
    if (test(readLabels(t[field], `target ${field}`))) kept.push(t);
  }
  return kept;
}
