// Re-export of test/helpers/upstream-stub.ts, where the stub upstream now lives; kept so older imports still resolve.
export * from '../helpers/upstream-stub.js';
