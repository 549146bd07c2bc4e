// Filters Prometheus /api/v1/alerts answers to the caller's tenant.
import type { RestrictedTenant } from '../../tenancy/tenant.js';
import { keepAlerts, labelsTest, readArray, readEnvelope, type JsonObject } from './shape.js';

/** `/api/v1/alerts`: keep the alerts whose labels satisfy the tenant. */
export function filterAlerts(body: unknown, tenant: RestrictedTenant): JsonObject {
  const env = readEnvelope(body, '/api/v1/alerts');
  if (!env.ok) return env.body;
  const alerts = readArray(env.data, 'alerts', 'data.alerts');
  return {
    ...env.body,
    data: { ...env.data, alerts: keepAlerts(alerts, labelsTest(tenant), 'data.alerts[]') },
  };
}
