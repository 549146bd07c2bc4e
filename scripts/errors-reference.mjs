// Writes docs/errors.md from the error-code table in src/errors.ts (built to dist/), so the list cannot drift.
// Usage: node scripts/errors-reference.mjs [--check]; node --import tsx scripts/errors-reference.mjs --source [--check] reads src/ (no build)
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const { CODES } = await import(process.argv.includes('--source') ? `${root}src/errors.ts` : `${root}dist/errors.js`);
const rows = Object.entries(CODES).map(
  ([code, c]) => `| \`${code}\` | ${c.status} | \`${c.type}\` | ${c.when.replace(/\|/g, '\\|')} |`,
);
const text = `# Error codes

Generated from \`src/errors.ts\` by \`node scripts/errors-reference.mjs\`; a test fails when they differ.

Every refusal is one \`GatewayError\` with a stable code. API callers get Prometheus API JSON
(\`{"status":"error","errorType":…,"error":…,"code":…}\`); browsers get a short text page with the same code.
Tests and scripts should match on \`code\`, never on the message.

| code | HTTP status | errorType | when |
|---|---|---|---|
${rows.join('\n')}
`;
const file = `${root}docs/errors.md`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing counts as different
  }
  if (current !== text) {
    console.error('docs/errors.md is out of date: run node scripts/errors-reference.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
}
