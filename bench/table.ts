// One table row per scenario: ratios to direct and bare, added latency, CPU per request, peak RSS, errors and the target checks.
import type { TargetResult } from './measure.js';

export interface Check {
  what: string;
  ok: boolean;
}

export interface Row {
  id: string;
  title: string;
  /** Set when the scenario could not run (the reason is printed instead of figures). */
  na?: string;
  thrDirect?: number;
  thrBare?: number;
  /** Added latency over bare, ms. */
  addP50?: number;
  addP99?: number;
  cpuPg?: number;
  cpuBare?: number;
  rssMb?: number;
  /** Peak RSS of the bare proxy under the same load. */
  rssBare?: number;
  /** promgate against prom-label-proxy (when the run has it): throughput ratio, its CPU per request and peak RSS. */
  thrPeer?: number;
  cpuPeer?: number;
  rssPeer?: number;
  /** The same figures for the `--baseline` build, printed as a row of its own under this one. */
  baseline?: Row;
  errors: number;
  checks: Check[];
  /** Extra lines printed under the table (absolute figures, sub-measurements). */
  notes: string[];
}

export interface Roles {
  pg: string;
  bare?: string;
  direct?: string;
}

/** The ratio columns from medians; errors are summed over every target measured in the scenario. */
export function rowFrom(
  id: string,
  title: string,
  res: Map<string, TargetResult>,
  roles: Roles = { pg: 'promgate', bare: 'bare', direct: 'direct' },
): Row {
  const pg = res.get(roles.pg)!.median;
  const bare = roles.bare ? res.get(roles.bare)?.median : undefined;
  const direct = roles.direct ? res.get(roles.direct)?.median : undefined;
  const peer = res.get('prom-label-proxy')?.median;
  let errors = 0;
  for (const r of res.values()) errors += r.median.errors;
  const abs = [...res.values()].map(
    (r) =>
      `${r.role} ${fmt(r.median.rps, 0)} req/s p50 ${fmt(r.median.p50, 2)} ms p99 ${fmt(r.median.p99, 2)} ms cpu ${fmt(r.median.cpuUs, 0)} µs/req`,
  );
  return {
    id,
    title,
    thrDirect: direct ? pg.rps / direct.rps : undefined,
    thrBare: bare ? pg.rps / bare.rps : undefined,
    addP50: bare ? pg.p50 - bare.p50 : undefined,
    addP99: bare ? pg.p99 - bare.p99 : undefined,
    cpuPg: pg.cpuUs,
    cpuBare: bare?.cpuUs,
    rssMb: pg.rssMb,
    rssBare: bare?.rssMb,
    thrPeer: peer ? pg.rps / peer.rps : undefined,
    cpuPeer: peer?.cpuUs,
    rssPeer: peer?.rssMb,
    baseline: roles.pg === 'promgate' && res.has('baseline') ? baselineRow(id, title, res, roles) : undefined,
    errors,
    checks: [],
    notes: [abs.join('; ')],
  };
}

function baselineRow(id: string, title: string, res: Map<string, TargetResult>, roles: Roles): Row {
  const r = rowFrom(`${id}0`, `${title} [baseline]`, res, { ...roles, pg: 'baseline' });
  const now = res.get(roles.pg)!.median;
  const then = res.get('baseline')!.median;
  r.notes = [
    `this tree vs the baseline build, same rounds: throughput ${fmt(now.rps / then.rps, 2)}×, CPU/request ${fmt(now.cpuUs, 0)} vs ${fmt(then.cpuUs, 0)} µs (${fmt(now.cpuUs / then.cpuUs, 2)}×), peak RSS ${fmt(now.rssMb, 0)} vs ${fmt(then.rssMb, 0)} MB`,
  ];
  return r;
}

export function fmt(n: number | undefined, digits: number): string {
  return n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);
}

const COLUMNS = [
  'scenario',
  'thr/direct',
  'thr/bare',
  '+p50 ms',
  '+p99 ms',
  'pg µs/req',
  'bare µs/req',
  'peak RSS MB',
  'bare RSS MB',
  'thr/plp',
  'plp µs/req',
  'plp RSS MB',
  'errors',
  'targets',
];

function cells(r: Row): string[] {
  const checks = r.checks.length === 0 ? '—' : r.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.what}`).join('; ');
  if (r.na) return [`${r.id}. ${r.title}`, r.na, '', '', '', '', '', '', '', '', '', '', String(r.errors), '—'];
  return [
    `${r.id}. ${r.title}`,
    fmt(r.thrDirect, 2),
    fmt(r.thrBare, 2),
    fmt(r.addP50, 2),
    fmt(r.addP99, 2),
    fmt(r.cpuPg, 0),
    fmt(r.cpuBare, 0),
    fmt(r.rssMb, 0),
    fmt(r.rssBare, 0),
    fmt(r.thrPeer, 2),
    fmt(r.cpuPeer, 0),
    fmt(r.rssPeer, 0),
    String(r.errors),
    checks,
  ];
}

/** A Markdown table (it reads as plain text in a terminal, and pastes into docs/performance.md as it is). */
export function renderTable(rows: readonly Row[]): string {
  // A baseline row sits right under the row it is compared with (ids like `d0`).
  const all = rows.flatMap((r) => (r.baseline ? [r, r.baseline] : [r]));
  const body = all.map(cells);
  const lines = [COLUMNS, COLUMNS.map(() => '---'), ...body].map((c) => `| ${c.join(' | ')} |`);
  const notes = all.flatMap((r) => r.notes.map((n) => `- ${r.id}: ${n}`));
  return [...lines, '', ...notes].join('\n');
}
