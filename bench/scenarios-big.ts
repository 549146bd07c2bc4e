// Scenarios f and h: ≥ 20 MB query_range answers streamed to 20 clients, and rules/alerts filtering at 5,000 rules.
import { pathsFile, measureTargets, trio, type Scenario } from './context.js';
import { gatewayYaml } from './fixtures.js';
import { directService, startBare, startGateway } from './processes.js';
import { queryPaths } from './queries.js';
import { startRulesPrometheus } from './rules-prometheus.js';
import { rowFrom, fmt, type Row } from './table.js';
import { fetchTimed, measureTtfb, wave } from './ttfb.js';
import { medianStats, type RunStats, type TargetResult } from './measure.js';
import { cpuSeconds, sampleRss } from './procstat.js';
import { Agent } from 'node:http';

/**
 * Raw bench_series over the whole stored range and up to 4 min ahead (the 5-min lookback keeps the last
 * sample alive), with the step chosen so the answer is at least `bytes`. Asked as the unrestricted admin,
 * so no rewrite shrinks it.
 */
async function bigRange(
  origin: string,
  auth: string,
  since: number,
  bytes: number,
): Promise<{ start: number; end: number; step: number; size: number }> {
  const start = since - 5;
  const end = Math.floor(Date.now() / 1000) + 240;
  const agent = new Agent({ keepAlive: false });
  // Prometheus refuses more than 11,000 points per series.
  const minStep = Math.ceil(((end - start) / 10_000) * 1000) / 1000;
  let step = Math.ceil((end - start) / 20);
  for (let i = 0; i < 8; i++) {
    const p = queryPaths(['bench_series'], { start, end, step }, false).upstream[0]!;
    const f = await fetchTimed(origin + p, { authorization: auth }, agent);
    if (f.status !== 200) throw new Error(`f: calibration query answered ${f.status}`);
    if (f.bytes >= bytes) return { start, end, step, size: f.bytes };
    if (step <= minStep) throw new Error(`f: even at a ${step}s step the answer is only ${f.bytes} bytes`);
    // Size grows about as 1/step (series metadata aside); aim 15 % above the target.
    step = Math.max(minStep, Math.floor(step * (f.bytes / (bytes * 1.15)) * 1000) / 1000);
  }
  throw new Error('f: could not size the answer');
}

export const scenarioF: Scenario = async (b) => {
  const admin = b.creds.admin;
  const range = await bigRange(b.direct.origin, admin, b.dataSince, b.o.bigBytes);
  // One URL per client (millisecond shifts of the range): 20 independent streams, none coalesced.
  const p = {
    upstream: Array.from(
      { length: b.o.bigClients },
      (_, i) => queryPaths(['bench_series'], { ...range, start: range.start + i / 1000 }, false).upstream[0]!,
    ),
  };
  const file = pathsFile(b, p.upstream);
  b.progress(`[f] query_range bench_series step ${range.step}s ≈ ${(range.size / 1e6).toFixed(1)} MB per answer`);
  // A promgate of its own (same config), so the row measures what streaming costs and not what the earlier
  // scenarios left in the shared instance's caches (e fills the 10,000-entry rewrite cache, for one).
  const own = await startGateway(
    'promgate-f',
    gatewayYaml({
      upstream: b.stack.prom.url,
      usersFile: b.creds.smallUsersFile,
      jwksFile: b.creds.jwksFile,
      rules: b.creds.smallRules,
    }),
    b.gatewayEnv,
  );
  b.cleanup.push(() => own.service.stop());
  const targets = trio({ ...b, gateway: own.service }, file, file, { authorization: admin });
  // One unmeasured wave warms the new instance up (JIT, socket buffers), as the shared one was by a–e.
  await wave(
    p.upstream.map((u) => own.service.origin + u),
    { authorization: admin },
  );
  const runs = new Map<string, RunStats[]>(targets.map((t) => [t.role, []]));
  for (let r = 0; r < b.o.bigRounds; r++) {
    for (const t of targets) {
      // A wave: every client asks for its answer at once and reads it to the end.
      const cpu0 = cpuSeconds(t.service.pid);
      const stopRss = sampleRss(t.service.pid);
      const w = await wave(
        p.upstream.map((u) => t.service.origin + u),
        { authorization: admin },
      );
      const s: RunStats = {
        rps: p.upstream.length / w.seconds,
        p50: percentile(w.times, 0.5),
        p99: percentile(w.times, 0.99),
        cpuUs: ((cpuSeconds(t.service.pid) - cpu0) * 1e6) / p.upstream.length,
        rssMb: stopRss(),
        errors: w.errors,
        requests: p.upstream.length,
        bytesPerReq: w.bytes / p.upstream.length,
        logBytesPerReq: 0,
        mbps: w.bytes / w.seconds / 1e6,
      };
      runs.get(t.role)!.push(s);
      b.progress(
        `[f] round ${r + 1} ${t.role.padEnd(9)} ${fmt(s.mbps, 0)} MB/s, answers in ${fmt(s.p50, 0)}–${fmt(s.p99, 0)} ms, rss ${fmt(s.rssMb, 0)} MB, errors ${s.errors}`,
      );
    }
  }
  const res = new Map<string, TargetResult>(
    [...runs].map(([role, rs]) => [role, { role, runs: rs, median: medianStats(rs) }]),
  );
  // Time to first byte, one request at a time on an otherwise idle stack, targets interleaved. Prometheus
  // builds the whole answer before its first byte, so the 23 MB TTFB varies by tens of ms from one query to
  // the next; the proxy's own share is the same for any size, and is read from 20× coarser answers.
  const urlsOf = (path: string) => Object.fromEntries(targets.map((t) => [t.role, t.service.origin + path]));
  const big = await measureTtfb(urlsOf(p.upstream[0]!), { authorization: admin }, b.o.ttfbSamples);
  const smallPath = queryPaths(['bench_series'], { ...range, step: range.step * 20 }, false).upstream[0]!;
  const ttfb = await measureTtfb(urlsOf(smallPath), { authorization: admin }, b.o.ttfbSamples * 3);
  const row = rowFrom(
    'f',
    `${b.o.bigClients} clients × ${(range.size / 1e6).toFixed(0)} MB query_range, streamed`,
    res,
  );
  row.errors += ttfb.errors + big.errors;
  const at = (role: string) => ttfb.ms.get(role)!;
  const addTtfb = at('promgate') - at('direct');
  const peaks = res.get('promgate')!.runs.map((s) => s.rssMb);
  const growth = peaks[peaks.length - 1]! - peaks[0]!;
  row.checks.push({ what: `peak RSS ≤ 150 MB`, ok: row.rssMb! <= 150 });
  row.checks.push({ what: `no RSS growth (${growth >= 0 ? '+' : ''}${fmt(growth, 0)} MB)`, ok: growth <= 10 });
  row.checks.push({ what: `TTFB ≤ direct + 1 ms (+${fmt(addTtfb, 2)} ms)`, ok: addTtfb <= 1 });
  const bigAt = (role: string) => fmt(big.ms.get(role), 1);
  row.notes.push(
    `TTFB median, ~1 MB answers: direct ${fmt(at('direct'), 1)} ms, bare ${fmt(at('bare'), 1)} ms, promgate ${fmt(at('promgate'), 1)} ms; ${(range.size / 1e6).toFixed(0)} MB answers: direct ${bigAt('direct')}, bare ${bigAt('bare')}, promgate ${bigAt('promgate')} ms`,
  );
  row.notes.push(`promgate peak RSS per round: ${peaks.map((x) => fmt(x, 0)).join(', ')} MB`);
  row.notes.push(
    `throughput in MB/s: ${[...res.values()].map((r) => `${r.role} ${fmt(r.median.mbps, 0)}`).join(', ')}; latency columns are whole-answer times within a wave of ${b.o.bigClients}`,
  );
  row.notes.push('promgate here is an instance of its own with the same config, started for this scenario');
  await own.service.stop();
  return [row];
};

/** h: a second Prometheus with many rules; promgate filters /api/v1/rules and /api/v1/alerts for one tenant. */
export const scenarioH: Scenario = async (b) => {
  b.progress(`[h] starting a Prometheus with ${b.o.rules} rules`);
  const rp = await startRulesPrometheus(b.stack.expo, b.o.rules);
  b.cleanup.push(() => rp.stop());
  const bare = await startBare('bare-rules', rp.url);
  b.cleanup.push(() => bare.stop());
  const gw = await startGateway(
    'promgate-rules',
    gatewayYaml({
      upstream: rp.url,
      usersFile: b.creds.smallUsersFile,
      jwksFile: b.creds.jwksFile,
      rules: b.creds.smallRules,
    }),
    b.gatewayEnv,
  );
  b.cleanup.push(() => gw.service.stop());
  const headers = { authorization: b.creds.basic };
  const rows: Row[] = [];
  for (const endpoint of ['rules', 'alerts']) {
    const file = pathsFile(b, [`/api/v1/${endpoint}`]);
    const targets = [
      { role: 'direct', service: directService(rp.url, rp.proc.pid!), pathsFile: file, headers, warmup: false },
      { role: 'bare', service: bare, pathsFile: file, headers },
      { role: 'promgate', service: gw.service, pathsFile: file, headers },
    ];
    const res = await measureTargets(
      b,
      `h-${endpoint}`,
      targets,
      { connections: 1, seconds: 1, latencySeconds: 0 },
      Math.min(2, b.o.rounds),
    );
    const row = rowFrom(`h`, `/api/v1/${endpoint} filtering, ${b.o.rules} rules (${rp.alerts} alerts)`, res);
    row.checks.push({ what: 'filtering adds ≤ 20 ms (p50)', ok: row.addP50! <= 20 });
    row.notes.push(
      `${endpoint}: answer ${fmt(res.get('bare')!.median.bytesPerReq / 1024, 0)} KiB unfiltered, ${fmt(res.get('promgate')!.median.bytesPerReq / 1024, 0)} KiB for the tenant; 1 connection`,
    );
    rows.push(row);
  }
  await Promise.all([gw.service.stop(), bare.stop(), rp.stop()]);
  return rows;
};

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}
