// Re-export of test/helpers/wait.ts, where the polling helper now lives; kept so older imports still resolve.
export * from '../../helpers/wait.js';
