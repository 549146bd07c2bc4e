// The response filters for Prometheus APIs that have no selector to rewrite (rules, alerts, targets).
export { filterAlerts } from './alerts.js';
export { labelsTest, readLabels, isObject, badResponse } from './shape.js';
export type { JsonObject, Labels, LabelsTest } from './shape.js';
export { filterRules } from './rules.js';
export { filterTargets } from './targets.js';
