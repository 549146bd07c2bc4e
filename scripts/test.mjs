// Runs the suite: system packages, build, type check of tests, then node:test over test/**/*.test.ts.
// --unit: no packages, no build, no type check, no test/e2e/ (no spawned Prometheus, Alertmanager, nginx, redis,
// chromium); every other test file runs from source. Either way, arguments that are not flags pick files by substring.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const unit = args.includes('--unit');
const started = performance.now();

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

if (!unit) {
  run('bash', ['scripts/ensure-deps.sh']);
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.test.json', '--noEmit']);
}

const filters = args.filter((a) => !a.startsWith('-'));
const files = findTests(join(root, 'test'))
  .filter((f) => !unit || !f.startsWith(join('test', 'e2e') + sep))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched', filters);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-reporter=${unit ? 'dot' : 'spec'}`, ...files],
  { stdio: 'inherit', cwd: root },
);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${unit ? 'unit tests' : 'tests'}: ${files.length} files in ${seconds} s${r.status === 0 ? '' : ' (failed)'}`,
);
process.exit(r.status ?? 1);
