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
    errors,
    checks: [],
    notes: [abs.join('; ')],
  };
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
  'errors',
  'targets',
];

function cells(r: Row): string[] {
  const checks = r.checks.length === 0 ? '—' : r.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.what}`).join('; ');
  if (r.na) return [`${r.id}. ${r.title}`, r.na, '', '', '', '', '', '', String(r.errors), '—'];
  return [
    `${r.id}. ${r.title}`,
    fmt(r.thrDirect, 2),
    fmt(r.thrBare, 2),
    fmt(r.addP50, 2),
    fmt(r.addP99, 2),
    fmt(r.cpuPg, 0),
    fmt(r.cpuBare, 0),
    fmt(r.rssMb, 0),
    String(r.errors),
    checks,
  ];
}

/** A Markdown table (it reads as plain text in a terminal, and pastes into docs/performance.md as it is). */
export function renderTable(rows: readonly Row[]): string {
  const body = rows.map(cells);
  const lines = [COLUMNS, COLUMNS.map(() => '---'), ...body].map((c) => `| ${c.join(' | ')} |`);
  const notes = rows.flatMap((r) => r.notes.map((n) => `- ${r.id}: ${n}`));
  return [...lines, '', ...notes].join('\n');
}
