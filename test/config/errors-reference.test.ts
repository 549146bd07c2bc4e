// docs/errors.md is generated from the error-code table; this fails when someone changes one without the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CODES } from '../../src/errors.js';

test('docs/errors.md matches src/errors.ts (regenerate: node scripts/errors-reference.mjs)', () => {
  // From source, so the check needs no build (npm run test:unit).
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/errors-reference.mjs', '--check', '--source'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});

test('every error code is thrown somewhere in src/ (no codes without a feature)', () => {
  const grep = spawnSync('grep', ['-rhoE', "'PG_[A-Z_]+'", 'src', '--include=*.ts', '--exclude=errors.ts'], {
    encoding: 'utf8',
  });
  const used = new Set(grep.stdout.split('\n').map((l) => l.replace(/'/g, '')));
  // PG_INTERNAL is what toGatewayError makes of any other exception, inside errors.ts itself.
  const unused = Object.keys(CODES).filter((c) => !used.has(c) && c !== 'PG_INTERNAL');
  assert.deepEqual(unused, [], `codes nothing throws: ${unused.join(', ')}`);
});
