// Scenarios a, b, c, g and w: a cheap instant query repeated under each credential type, a big users file, and --workers 2.
import { join } from 'node:path';
import { measureTargets, pathsFile, standardLoad, trio, type Bench, type Scenario } from './context.js';
import { gatewayYaml } from './fixtures.js';
import { startGateway } from './processes.js';
import { CHEAP_QUERY, timeVariants } from './queries.js';
import { mintSessionCookie, newCookieSecret, oidcConfig, sessionLoadMicros } from './session-cookie.js';
import { rowFrom, fmt, type Row } from './table.js';
import { limiterMicros } from './limits-micro.js';

function cheapFiles(b: Bench): { upstream: string; promgate: string } {
  const p = timeVariants(CHEAP_QUERY, 2000);
  return { upstream: pathsFile(b, p.upstream), promgate: pathsFile(b, p.promgate) };
}

/** a/b/c targets: CPU per request ≤ 1.25× bare and throughput ≥ 0.9× bare. */
function authChecks(row: Row): Row {
  row.checks.push({ what: 'cpu ≤ 1.25× bare', ok: row.cpuPg! <= 1.25 * row.cpuBare! });
  row.checks.push({ what: 'thr ≥ 0.9× bare', ok: row.thrBare! >= 0.9 });
  return row;
}

/** The same cheap query with one Authorization header; direct and bare receive the header too (same bytes to parse). */
function credentialScenario(id: string, title: string, header: (b: Bench) => string): Scenario {
  return async (b) => {
    const f = cheapFiles(b);
    const headers = { authorization: header(b) };
    const targets = trio(b, f.upstream, f.promgate, headers, { extras: true });
    const res = await measureTargets(b, id, targets, standardLoad(b));
    const row = authChecks(rowFrom(id, title, res));
    row.notes.push(`access log ${fmt(res.get('promgate')!.median.logBytesPerReq, 0)} bytes/request`);
    return [row];
  };
}

export const scenarioA = credentialScenario('a', 'basic auth (bcrypt), cheap instant query', (b) => b.creds.basic);
export const scenarioB = credentialScenario('b', 'RS256 JWT, cheap instant query', (b) => b.creds.bearer);

/** c: a gateway with OIDC sessions configured; the cookie is sealed with its cookie store and secret. */
export const scenarioC: Scenario = async (b) => {
  const secret = newCookieSecret();
  const yaml = gatewayYaml({
    upstream: b.stack.prom.url,
    usersFile: b.creds.smallUsersFile,
    jwksFile: b.creds.jwksFile,
    rules: b.creds.smallRules,
    oidc: oidcConfig(secret),
  });
  const gw = await startGateway('promgate-oidc', yaml, b.gatewayEnv);
  b.cleanup.push(() => gw.service.stop());
  // The baseline build gets the same OIDC config, so its row measures the same sessions.
  const base = b.baseline
    ? await startGateway('baseline-oidc', yaml, b.gatewayEnv, join(b.baselineDir!, 'dist/cli/main.js'))
    : undefined;
  if (base) b.cleanup.push(() => base.service.stop());
  const cookie = await mintSessionCookie(secret);
  const f = cheapFiles(b);
  const headers = { cookie };
  const targets = trio(b, f.upstream, f.promgate, headers, {
    extras: true,
    gateway: gw.service,
    baseline: base?.service,
  });
  const res = await measureTargets(b, 'c', targets, standardLoad(b));
  await Promise.all([gw.service.stop(), base?.service.stop()]);
  const row = authChecks(rowFrom('c', 'OIDC session cookie, cheap instant query', res));
  row.notes.push(
    `cookie ${cookie.length} bytes; opening it (AES-GCM + JSON + schema check) costs ${fmt(await sessionLoadMicros(cookie, secret), 1)} µs median in-process`,
  );
  return [row];
};

/** g: 10,000 users and 1,000 tenant rules against the 5-user gateway; startup is process start → /-/healthy 200. */
export const scenarioG: Scenario = async (b) => {
  const yaml = gatewayYaml({
    upstream: b.stack.prom.url,
    usersFile: b.creds.bigUsersFile,
    jwksFile: b.creds.jwksFile,
    rules: b.creds.bigRules,
  });
  const big = await startGateway('promgate-10k', yaml, b.gatewayEnv);
  b.cleanup.push(() => big.service.stop());
  b.progress(
    `[g] 10,000 users / ${b.creds.bigRules.length} rules: healthy after ${big.startupMs.toFixed(0)} ms (5-user config: ${b.gatewayStartupMs.toFixed(0)} ms)`,
  );
  const f = cheapFiles(b);
  const headers = { authorization: b.creds.basic };
  const [, bare, small] = trio(b, f.upstream, f.promgate, headers);
  const res = await measureTargets(
    b,
    'g',
    [bare!, small!, { role: 'promgate-10k', service: big.service, pathsFile: f.promgate, headers }],
    standardLoad(b),
  );
  await big.service.stop();
  const row = rowFrom('g', '10,000 users + 1,000 rules (basic auth)', res, { pg: 'promgate-10k', bare: 'bare' });
  const s = res.get('promgate')!.median;
  const l = res.get('promgate-10k')!.median;
  const ratio = l.cpuUs / s.cpuUs;
  // One-sided: the big policy must not make a request dearer; being cheaper is noise.
  row.checks.push({ what: `cpu ≤ 1.1× 5 users (${fmt(ratio, 2)}×)`, ok: ratio <= 1.1 });
  row.checks.push({ what: `startup ≤ 2 s (${(big.startupMs / 1000).toFixed(2)} s)`, ok: big.startupMs <= 2000 });
  row.notes.push(
    `vs the 5-user config: throughput ${fmt(l.rps / s.rps, 2)}×, CPU/request ${fmt(ratio, 2)}×, RSS ${fmt(l.rssMb, 0)} vs ${fmt(s.rssMb, 0)} MB; startup ${big.startupMs.toFixed(0)} ms vs ${b.gatewayStartupMs.toFixed(0)} ms`,
  );
  return [row];
};

/** w: scenario a against `workers: 2` (node:cluster), next to the single-process gateway. */
export const scenarioW: Scenario = async (b) => {
  const yaml = gatewayYaml({
    upstream: b.stack.prom.url,
    usersFile: b.creds.smallUsersFile,
    jwksFile: b.creds.jwksFile,
    rules: b.creds.smallRules,
    workers: 2,
  });
  const w2 = await startGateway('promgate-w2', yaml, b.gatewayEnv);
  b.cleanup.push(() => w2.service.stop());
  const f = cheapFiles(b);
  const headers = { authorization: b.creds.basic };
  const [, bare, w1] = trio(b, f.upstream, f.promgate, headers);
  const res = await measureTargets(
    b,
    'w',
    [bare!, w1!, { role: 'promgate-w2', service: w2.service, pathsFile: f.promgate, headers }],
    standardLoad(b),
    Math.min(2, b.o.rounds),
  );
  await w2.service.stop();
  const row = rowFrom('w', 'scenario a with --workers 2', res, { pg: 'promgate-w2', bare: 'bare' });
  const one = res.get('promgate')!.median;
  const two = res.get('promgate-w2')!.median;
  row.notes.push(
    `workers 2 vs 1: throughput ${fmt(two.rps / one.rps, 2)}×, CPU/request ${fmt(two.cpuUs / one.cpuUs, 2)}× (primary + workers), p50 ${fmt(two.p50, 2)} vs ${fmt(one.p50, 2)} ms, RSS ${fmt(two.rssMb, 0)} vs ${fmt(one.rssMb, 0)} MB`,
  );
  return [row];
};

/**
 * l: scenario a against a gateway with every protection on (rate limit, concurrency limits, query limits with a
 * timeout, circuit breaker, retries), set high enough that nothing is refused, next to the plain gateway: the
 * difference in CPU per request is what the limiter costs.
 */
export const scenarioL: Scenario = async (b) => {
  const yaml = gatewayYaml({
    upstream: b.stack.prom.url,
    usersFile: b.creds.smallUsersFile,
    jwksFile: b.creds.jwksFile,
    rules: b.creds.smallRules,
    limits: {
      query: {
        maxQueryRange: '31d',
        maxLookback: '90d',
        maxSelectorRange: '30d',
        queryTimeout: '1m',
        maxSeriesRange: '7d',
      },
      rate: { rate: 1e9, burst: 1e9 },
      concurrency: { route: 10_000, tenant: 10_000 },
    },
    upstreamExtra: { breaker: { failures: 5 }, retries: { attempts: 2 } },
  });
  const lim = await startGateway('promgate-limits', yaml, b.gatewayEnv);
  b.cleanup.push(() => lim.service.stop());
  const f = cheapFiles(b);
  const headers = { authorization: b.creds.basic };
  const [, bare, plain] = trio(b, f.upstream, f.promgate, headers);
  const res = await measureTargets(
    b,
    'l',
    [bare!, plain!, { role: 'promgate-limits', service: lim.service, pathsFile: f.promgate, headers }],
    standardLoad(b),
  );
  await lim.service.stop();
  const row = rowFrom('l', 'scenario a with every limit on', res, { pg: 'promgate-limits', bare: 'bare' });
  const p = res.get('promgate')!.median;
  const l = res.get('promgate-limits')!.median;
  const delta = l.cpuUs - p.cpuUs;
  // Process CPU per request moves by tens of µs between runs on a small machine; the limiter's own cost is
  // measured in-process, where a few µs are visible, and that is what the target is checked on.
  const m = limiterMicros();
  const total = m.admit + m.query + m.guard;
  row.checks.push({ what: `limiter path ≤ 5 µs/req in-process (${fmt(total, 2)} µs)`, ok: total <= 5 });
  row.notes.push(
    `in-process, per request: rate limit + concurrency slot ${fmt(m.admit, 2)} µs, query-limit check ${fmt(m.query, 2)} µs, breaker/retry guard ${fmt(m.guard, 2)} µs`,
  );
  row.notes.push(
    `with limits vs without, whole process: CPU/request ${fmt(l.cpuUs, 1)} vs ${fmt(p.cpuUs, 1)} µs (${fmt(delta, 1)} µs, within this measurement's run-to-run spread), throughput ${fmt(l.rps / p.rps, 2)}×, p50 ${fmt(l.p50, 2)} vs ${fmt(p.p50, 2)} ms`,
  );
  return [row];
};
