// Tenants the Alertmanager enforcement tests share: plain, dotted, multi-valued, regex, weird characters, two labels.
import type { LabelConstraint, RestrictedTenant } from '../../src/tenancy/tenant.js';

export function tenant(id: string, ...constraints: LabelConstraint[]): RestrictedTenant {
  return { unrestricted: false, id, constraints };
}
const ns = (...values: string[]): LabelConstraint => ({ label: 'namespace', kind: 'values', values });
export const WEIRD = 'we"ird\\ns\ttab\nline';
export const TEAM_A = tenant('team-a', ns('team-a'));
export const TENANT_D = tenant('tenant.d', ns('tenant.d'));
export const TENANT_XD = tenant('tenantxd', ns('tenantxd'));
export const MULTI = tenant('multi', ns('team-a', 'tenant.d'));
export const REGEX_D = tenant('regex-d', { label: 'namespace', kind: 'regex', pattern: 'tenant\\..+' });
export const WEIRD_T = tenant('weird', ns(WEIRD));
export const WEIRD_MULTI = tenant('weird-multi', ns(WEIRD, 'tenant.d'));
export const TWO = tenant('two', { label: 'cluster', kind: 'values', values: ['c2'] }, ns('team-a'));
