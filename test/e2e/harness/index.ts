// One import for e2e suites: every harness fixture and helper.
export * from './alertmanager.js';
export * from './cleanup.js';
export * from './data.js';
export * from './exposition.js';
export * from './http.js';
export * from './ports.js';
export * from './procs.js';
export * from './prometheus.js';
export * from './promgate.js';
export * from './rules.js';
export * from './stack.js';
export * from '../../helpers/wait.js';
export * from './victoria.js';
export * from './clusters.js';
