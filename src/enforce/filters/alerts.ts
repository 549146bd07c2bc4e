// Filters Prometheus /api/v1/alerts answers to the caller's tenant.
import type { DotMode } from '../../lib/re2.js';
import type { RestrictedTenant } from '../../tenancy/tenant.js';
import { keepAlerts, labelsTest, readArray, readEnvelope, type JsonObject } from './shape.js';

/** `/api/v1/alerts`: keep the alerts whose labels satisfy the tenant (regexes read with the backend's dot mode). */
export function filterAlerts(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): JsonObject {
  const env = readEnvelope(body, '/api/v1/alerts');
  if (!env.ok) return env.body;
  const alerts = readArray(env.data, 'alerts', 'data.alerts');
  return {
    ...env.body,
    data: { ...env.data, alerts: keepAlerts(alerts, labelsTest(tenant, mode), 'data.alerts[]') },
  };
}
