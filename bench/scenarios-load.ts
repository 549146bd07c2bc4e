// Scenarios d, e and i: a dashboard query_range, 10,000 distinct queries (rewrite-cache misses), and 50 viewers of one dashboard.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureTargets, pathsFile, standardLoad, trio, type Scenario } from './context.js';
import {
  DASHBOARD_PANELS,
  DASHBOARD_QUERY,
  dashboardRange,
  distinctQueries,
  queryPaths,
  timeVariants,
} from './queries.js';
import { rowFrom, fmt } from './table.js';

export const scenarioD: Scenario = async (b) => {
  const p = timeVariants(DASHBOARD_QUERY, 2000, { seconds: 3600, step: 15 });
  const res = await measureTargets(
    b,
    'd',
    trio(b, pathsFile(b, p.upstream), pathsFile(b, p.promgate), { authorization: b.creds.basic }, { extras: true }),
    standardLoad(b),
  );
  const row = rowFrom('d', 'dashboard query_range, sum by namespace', res);
  row.checks.push({ what: 'thr ≥ 0.95× bare', ok: row.thrBare! >= 0.95 });
  row.checks.push({ what: '+p50 ≤ 0.5 ms', ok: row.addP50! <= 0.5 });
  return [row];
};

const PROMQL_BENCH = fileURLToPath(new URL('./promql.ts', import.meta.url));

/** bench/promql.ts in its own process (an idle moment, nothing else loading the CPU); its enforce + verify median in µs. */
function promqlMicroMedian(quick: boolean): { median: number; parse: number } | string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', PROMQL_BENCH, ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const median = (prefix: string): number | undefined => {
    const line = r.stdout.split('\n').find((l) => l.startsWith(prefix));
    const m = line && /median ([0-9.]+) µs/.exec(line);
    return m ? Number(m[1]) : undefined;
  };
  const e = median('enforce + verify ');
  const p = median('one lezer parse');
  return e !== undefined && p !== undefined
    ? { median: e, parse: p }
    : `bench/promql.ts failed: ${r.stderr.slice(0, 300)}`;
}

/**
 * e: each promgate run gets its own 10,000 queries, so its rewrite cache (10,000 entries) never answers one
 * of them. Direct and bare have no cache: they get one such list, already rewritten (the same generator).
 */
export const scenarioE: Scenario = async (b) => {
  const micro = promqlMicroMedian(b.o.quick);
  const lists = new Map<number, string>();
  const list = (run: number) => {
    let l = lists.get(run);
    if (!l)
      lists.set(
        run,
        (l = pathsFile(b, queryPaths(distinctQueries(b.o.distinct, 1000 + run), undefined, false).promgate)),
      );
    return l;
  };
  const headers = { authorization: b.creds.basic };
  const upstream = pathsFile(b, queryPaths(distinctQueries(b.o.distinct, 999)).upstream);
  const targets = trio(b, upstream, list, headers, { extras: true });
  const res = await measureTargets(b, 'e', targets, standardLoad(b), Math.min(2, b.o.rounds));
  const row = rowFrom('e', `${b.o.distinct} distinct ~300-char queries`, res);
  const most = Math.max(...res.get('promgate')!.runs.map((r) => r.requests));
  row.notes.push(`largest loaded run sent ${most} requests over a list of ${b.o.distinct} (a new list for every run)`);
  if (typeof micro !== 'string') {
    const ratio = micro.median / micro.parse;
    row.checks.push({
      what: `enforce+verify median ≤ 50 µs (${micro.median.toFixed(1)} µs, ${ratio.toFixed(2)}× one parse)`,
      ok: micro.median <= 50,
    });
    row.notes.push(
      `bench/promql.ts: enforce + verify median ${micro.median.toFixed(1)} µs per query, one lezer parse ${micro.parse.toFixed(1)} µs (${ratio.toFixed(2)}×)`,
    );
  } else {
    row.notes.push(micro);
    row.errors++;
  }
  return [row];
};

/**
 * i: 50 clients cycling through one dashboard's 10 panels (same range, so the requests are identical).
 * Coalescing and a results cache would serve repeats without Prometheus; the target is ≥ 2× direct.
 */
export const scenarioI: Scenario = async (b) => {
  const p = queryPaths(DASHBOARD_PANELS, dashboardRange(3600, 15));
  const load = { connections: 50, threads: 2, seconds: b.o.seconds, latencySeconds: 0 };
  const res = await measureTargets(
    b,
    'i',
    trio(b, pathsFile(b, p.upstream), pathsFile(b, p.promgate), { authorization: b.creds.basic }),
    load,
  );
  const row = rowFrom('i', '50 viewers × one dashboard (10 panels)', res);
  row.checks.push({ what: 'thr ≥ 2× direct', ok: row.thrDirect! >= 2 });
  row.notes.push(`latency columns here are under load (50 connections), not single-connection`);
  row.notes.push(
    `direct ${fmt(res.get('direct')!.median.rps, 0)} req/s; a gateway can only beat direct by answering repeats itself (coalescing / results cache)`,
  );
  return [row];
};
