// The Node flags promgate ships with are the same wherever it is started: package.json's start scripts and the image.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url);
const read = (p: string): string => readFileSync(new URL(p, root), 'utf8');

test('package.json start scripts and the Dockerfile ENTRYPOINT pass the same Node flags', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const flagsOf = (cmd: string): string[] => {
    const m = /^node((?: --[^ ]+)*) dist\/cli\/main\.js/.exec(cmd);
    assert.ok(m, `not a node dist/cli/main.js command: ${cmd}`);
    return m[1]!.trim().split(' ').filter(Boolean);
  };
  const start = flagsOf(scripts.start!);
  assert.ok(start.includes('--max-semi-space-size=2'), 'the young-generation cap (docs/performance.md, Memory)');
  assert.deepEqual(flagsOf(scripts['start:quickstart']!), start);
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'));
  assert.ok(entry, 'Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entry[1]!) as string[];
  assert.equal(argv.at(-1), '/app/dist/cli/main.js');
  assert.deepEqual(argv.slice(1, -1), start);
});
