// docs/security.md names every attack table: each test/security/*.test.ts is linked from it, and every test it links exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../e2e/harness/index.js';

const doc = readFileSync(join(REPO_ROOT, 'docs/security.md'), 'utf8');
const linked = new Set([...doc.matchAll(/\]\(\.\.\/(test\/[^)#\s]+\.test\.ts)\)/g)].map((m) => m[1]!));

test('every test/security/*.test.ts is linked from docs/security.md', () => {
  const files = readdirSync(join(REPO_ROOT, 'test/security'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/security/${f}`);
  assert.ok(files.length >= 10, 'the attack tables were found');
  assert.deepEqual(
    files.filter((f) => !linked.has(f)),
    [],
  );
});

test('every test docs/security.md links exists', () => {
  assert.ok(linked.size >= 10);
  assert.deepEqual(
    [...linked].filter((f) => !existsSync(join(REPO_ROOT, f))),
    [],
  );
});
