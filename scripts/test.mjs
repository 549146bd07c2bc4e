// Runs the suite: system packages, build, type check of tests, then node:test over test/**/*.test.ts.
// --unit: the fast loop. No packages, no build, no type check, no test/e2e/, no packaging tests (test/container,
// test/package: they build the package), no file that spawns the built CLI (dist/cli/main.js, through the e2e
// harness's startPromgate or PROMGATE_ENTRY), and PROMGATE_TEST_UNIT=1, which makes the few tests outside test/e2e/
// that start a real Prometheus or redis skip: all of those run in `npm test`. The unit files run from source in
// ONE process (a generated entry imports them all), so the module graph loads once instead of once per file; a
// unit test file must therefore leave no global state behind (environment, process listeners, timers), which
// `npm test`, running each file in its own process, would not notice. Either way, arguments that are not flags
// pick files by substring.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
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
const SPAWNS_CLI = /\bPROMGATE_ENTRY\b|\bstartPromgate\(/;
const matching = findTests(join(root, 'test'))
  .filter((f) => !unit || !f.startsWith(join('test', 'e2e') + sep))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const PACKAGING = [join('test', 'container') + sep, join('test', 'package') + sep];
const files = unit
  ? matching.filter(
      (f) => !PACKAGING.some((p) => f.startsWith(p)) && !SPAWNS_CLI.test(readFileSync(join(root, f), 'utf8')),
    )
  : matching;
const left = matching.length - files.length;
if (files.length === 0) {
  console.error('no test files matched', filters);
  process.exit(1);
}
let r;
if (unit) {
  const dir = mkdtempSync(join(tmpdir(), 'promgate-unit-'));
  const entry = join(dir, 'unit.test.mjs');
  writeFileSync(entry, files.map((f) => `import ${JSON.stringify(pathToFileURL(join(root, f)).href)};\n`).join(''));
  r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', entry], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, PROMGATE_TEST_UNIT: '1' },
  });
  rmSync(dir, { recursive: true, force: true });
} else {
  r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
    {
      stdio: 'inherit',
      cwd: root,
    },
  );
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${unit ? 'unit tests' : 'tests'}: ${files.length} files in ${seconds} s${r.status === 0 ? '' : ' (failed)'}` +
    (left > 0 ? `; ${left} files that build the package or spawn the built CLI are left to npm test` : ''),
);
process.exit(r.status ?? 1);
