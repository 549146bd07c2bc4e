// docs/config-reference.md is generated from the schema; this fails when someone changes one without the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('docs/config-reference.md matches the schema (regenerate: node scripts/config-reference.mjs)', () => {
  // From source, so the check needs no build (npm run test:unit).
  const r = spawnSync(process.execPath, ['scripts/config-reference.mjs', '--check', '--source'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
