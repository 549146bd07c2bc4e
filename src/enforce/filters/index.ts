// The response filters for Prometheus APIs that have no selector to rewrite (rules, alerts, targets).
export { filterAlerts, labelsTest, readLabels, isObject, badResponse } from './alerts.js';
export type { JsonObject, Labels, LabelsTest } from './alerts.js';
export { filterRules } from './rules.js';
export { filterTargets } from './targets.js';
