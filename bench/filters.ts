// Micro-benchmark of the rules and alerts response filters, parse and stringify included (node --import tsx bench/filters.ts).
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { filterAlerts, filterRules } from '../src/enforce/filters/index.js';
import type { RestrictedTenant } from '../src/tenancy/tenant.js';

const NAMESPACES = ['team-a', 'team-b', 'tenant.d', 'tenantxd'] as const;
const STAMP = '2026-01-01T00:00:00.000000000Z';

function alert(name: string, ns: string, i: number): Record<string, unknown> {
  return {
    labels: { alertname: name, namespace: ns, pod: `pod-${i}`, severity: 'warning' },
    annotations: { summary: `${name} in ${ns}`, description: `pod pod-${i} is not healthy` },
    state: i % 3 === 0 ? 'pending' : 'firing',
    activeAt: STAMP,
    value: '1e+00',
  };
}

/**
 * A `/api/v1/rules` answer shaped like Prometheus 2.42's. Even rules alert, with `alertsPerRule` alerts in as
 * many namespaces; odd rules record, with the group's namespace as a static label.
 */
export function makeRulesBody(groups: number, rulesPerGroup: number, alertsPerRule = 1): Record<string, unknown> {
  const out: unknown[] = [];
  for (let g = 0; g < groups; g++) {
    const ns = NAMESPACES[g % NAMESPACES.length]!;
    const rules: unknown[] = [];
    for (let r = 0; r < rulesPerGroup; r++) {
      const name = `Rule${g}_${r}`;
      const common = { name, health: 'ok', evaluationTime: 0.0004, lastEvaluation: STAMP };
      if (r % 2 === 0) {
        const alerts = Array.from({ length: alertsPerRule }, (_, k) =>
          alert(name, NAMESPACES[(g + k) % NAMESPACES.length]!, g * 10 + k),
        );
        rules.push({
          state: 'firing',
          ...common,
          query: `rate(http_errors_total[5m]) > ${r}`,
          duration: 300,
          keepFiringFor: 0,
          labels: { severity: 'warning' },
          annotations: { summary: 'errors {{ $labels.namespace }}' },
          alerts,
          type: 'alerting',
        });
      } else {
        rules.push({
          ...common,
          query: `sum by (pod) (up{namespace="${ns}"})`,
          labels: { namespace: ns },
          type: 'recording',
        });
      }
    }
    const file = `/etc/prometheus/rules/${ns}.yml`;
    out.push({ name: `group-${g}`, file, rules, interval: 30, limit: 0, evaluationTime: 0.002, lastEvaluation: STAMP });
  }
  return { status: 'success', data: { groups: out } };
}

export function makeAlertsBody(n: number): Record<string, unknown> {
  const alerts = Array.from({ length: n }, (_, i) => alert(`Alert${i}`, NAMESPACES[i % NAMESPACES.length]!, i));
  return { status: 'success', data: { alerts } };
}

export const benchTenant: RestrictedTenant = {
  unrestricted: false,
  id: 'team-a',
  constraints: [{ label: 'namespace', kind: 'values', values: ['team-a', 'tenant.d'] }],
};

export interface Timing {
  total: number;
  parse: number;
  filter: number;
  stringify: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median wall times in ms of JSON.parse, the filter and JSON.stringify over `runs` runs, after warm-up. */
export function measure(text: string, filter: (body: unknown, t: RestrictedTenant) => unknown, runs = 31): Timing {
  const parse: number[] = [];
  const filt: number[] = [];
  const str: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    const t0 = performance.now();
    const body: unknown = JSON.parse(text);
    const t1 = performance.now();
    const out = filter(body, benchTenant);
    const t2 = performance.now();
    JSON.stringify(out);
    const t3 = performance.now();
    if (i < 5) continue;
    parse.push(t1 - t0);
    filt.push(t2 - t1);
    str.push(t3 - t2);
    total.push(t3 - t0);
  }
  return { total: median(total), parse: median(parse), filter: median(filt), stringify: median(str) };
}

function main(): void {
  const cases: [string, string, (b: unknown, t: RestrictedTenant) => unknown][] = [
    ['filterRules  500x10 rules, 1 alert/alerting rule ', JSON.stringify(makeRulesBody(500, 10, 1)), filterRules],
    ['filterRules  500x10 rules, 3 alerts/alerting rule', JSON.stringify(makeRulesBody(500, 10, 3)), filterRules],
    ['filterAlerts 5000 alerts                         ', JSON.stringify(makeAlertsBody(5000)), filterAlerts],
  ];
  const f = (n: number): string => n.toFixed(2).padStart(6);
  console.log(
    `node ${process.version}; median of 31 runs; ms; total = parse + filter + stringify (budget for rules: 20 ms)`,
  );
  for (const [name, text, fn] of cases) {
    const t = measure(text, fn);
    const kib = `${Math.round(Buffer.byteLength(text) / 1024)} KiB`.padStart(9);
    console.log(
      `${name} ${kib}: total ${f(t.total)}  parse ${f(t.parse)}  filter ${f(t.filter)}  stringify ${f(t.stringify)}`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
