// Micro-benchmark of RE2 (re2js) against JS RegExp on the filter path, compile cost and memory (node --expose-gc --import tsx bench/regex.ts).
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { filterAlerts, filterRules } from '../src/enforce/filters/index.js';
import { wholeMatcher, type DotMode } from '../src/lib/re2.js';
import type { RestrictedTenant } from '../src/tenancy/tenant.js';
import { benchTenant, makeAlertsBody, makeRulesBody, measure } from './filters.js';

const PATTERNS = [
  'team-.*',
  'team-(a|b)|tenant\\.d',
  '(?i)team-[a-z]+',
  '[a-z]+-\\d+',
  'team-a|team-b|team-c|team-d|team-e',
];
const VALUES = ['team-a', 'team-b', 'tenant.d', 'tenantxd', 'kube-system', 'team-foo-bar-baz-123', 'a'.repeat(64)];

type Test = (v: string) => boolean;

function engines(p: string): Record<string, Test> {
  const js = new RegExp(`^(?:${p.replace('(?i)', '')})$`, p.startsWith('(?i)') ? 'sui' : 'su');
  const mode = (m: DotMode): Test => wholeMatcher(p, m)!;
  return { 'JS RegExp': (v) => js.test(v), 're2 plain': mode('plain'), 're2 dotall': mode('dotall') };
}

/** ns per test, the best of `rounds` rounds, engines alternating within each round so load affects them alike. */
function perTest(rounds = 7, iterations = 200_000): Map<string, number> {
  const byPattern = PATTERNS.map(engines);
  const names = Object.keys(byPattern[0]!);
  const best = new Map(names.map((n) => [n, Infinity]));
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const e = byPattern[i % byPattern.length]![name]!;
        if (e(VALUES[i % VALUES.length]!)) sink++;
      }
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      best.set(name, Math.min(best.get(name)!, ns));
    }
  }
  if (sink < 0) console.log(sink);
  return best;
}

function compileCost(): { firstMs: number; perPatternUs: number; heapKiBPerPattern: number | undefined } {
  const gc = (globalThis as { gc?: () => void }).gc;
  const t0 = performance.now();
  wholeMatcher('(?i)first-[a-z]+-\\d{2}', 'plain')!('x');
  const firstMs = performance.now() - t0;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const n = 2000;
  const kept: Test[] = [];
  const t1 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = wholeMatcher(`team-${i}-(a|b)[a-z0-9-]*`, 'plain')!;
    t(`team-${i}-a-x`);
    kept.push(t);
  }
  const perPatternUs = ((performance.now() - t1) * 1000) / n;
  gc?.();
  const heap = gc ? (process.memoryUsage().heapUsed - before) / 1024 / n : undefined;
  return { firstMs, perPatternUs, heapKiBPerPattern: kept.length === n ? heap : undefined };
}

const regexTenant: RestrictedTenant = {
  unrestricted: false,
  id: 'regex',
  constraints: [{ label: 'namespace', kind: 'regex', pattern: 'team-a|tenant\\.d' }],
};

function main(): void {
  const c = compileCost();
  console.log(`node ${process.version}`);
  console.log(
    `compile: first ${c.firstMs.toFixed(1)} ms (tables), then ${c.perPatternUs.toFixed(0)} µs per pattern; heap ${c.heapKiBPerPattern === undefined ? '(run with --expose-gc)' : `${c.heapKiBPerPattern.toFixed(1)} KiB`} per cached pattern`,
  );
  const pt = perTest();
  const js = pt.get('JS RegExp')!;
  for (const [name, ns] of pt)
    console.log(`whole-value test, ${name.padEnd(10)}: ${ns.toFixed(0).padStart(5)} ns  (${(ns / js).toFixed(1)}x JS)`);
  const rules = JSON.stringify(makeRulesBody(500, 10, 3));
  const alerts = JSON.stringify(makeAlertsBody(5000));
  const f = (n: number): string => n.toFixed(2).padStart(6);
  for (const [name, text, fn] of [
    ['filterRules 500x10, 3 alerts/rule', rules, filterRules],
    ['filterAlerts 5000 alerts        ', alerts, filterAlerts],
  ] as const) {
    // Alternate the tenants so both see the same machine load; medians of 31 runs each, 3 rounds.
    const values: number[] = [];
    const regex: number[] = [];
    for (let r = 0; r < 3; r++) {
      values.push(measure(text, (b) => fn(b, benchTenant, 'plain')).filter);
      regex.push(measure(text, (b) => fn(b, regexTenant, 'plain')).filter);
    }
    const v = Math.min(...values);
    const x = Math.min(...regex);
    console.log(`${name}: filter step, values tenant ${f(v)} ms, regex tenant (re2) ${f(x)} ms`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
