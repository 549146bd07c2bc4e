// Command-line options of `npm run bench` and the durations and sizes they imply (full run under 5 min, --quick under 1 min).
export const ALL_SCENARIOS = ['r', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'w', 'l'] as const;
export type ScenarioId = (typeof ALL_SCENARIOS)[number];

export interface Options {
  quick: boolean;
  scenarios: ScenarioId[];
  rounds: number;
  /** Whole seconds (wrk's unit) of each loaded run, of each 1-connection latency run, and of the warm-up per target. */
  seconds: number;
  latencySeconds: number;
  warmupSeconds: number;
  connections: number;
  benchSeries: number;
  /** Scenario e: distinct queries per run. */
  distinct: number;
  /** Scenario f: answer size, clients, seconds per run, TTFB samples per target and round. */
  bigBytes: number;
  bigClients: number;
  bigSeconds: number;
  ttfbSamples: number;
  bigRounds: number;
  /** Scenario g and h sizes. */
  users: number;
  policyRules: number;
  rules: number;
  /** Extra NODE_OPTIONS for promgate (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof). */
  nodeOptions: string;
  /** `--baseline <dir>`: a second promgate built in <dir> (dist/cli/main.js), measured beside this tree's in every round. */
  baseline: string;
  /** `--no-peer`: leave prom-label-proxy out even when a binary is available. */
  peer: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [--quick] [--scenario a,b,...] [--rounds N] [--seconds S] [--node-options "..."]
                         [--baseline <dir>] [--no-peer]
  scenarios: a basic auth, b JWT, c OIDC session cookie, d dashboard query_range, e 10,000 distinct queries,
             f >= 20 MB query_range answers to 20 clients, g 10,000 users / 1,000 rules, h rules/alerts filtering
             at 5,000 rules, i 50 viewers of one dashboard, w scenario a with --workers 2 vs 1,
             l scenario a with every limit on vs off, r idle RSS of every target
  --baseline <dir>  another built promgate (a worktree of an older commit with dist/ built) runs beside this one
                    in the same rounds, so before/after figures see the same machine load
  prom-label-proxy joins a–e when PROM_LABEL_PROXY_BIN names a binary, or (full runs) when Go can build it once
  into ~/.cache/promgate; --no-peer leaves it out`;

export function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const value = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    const a = argv[i]!;
    return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
  };
  const picked = value('--scenario')
    ?.split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = picked?.filter((s) => !(ALL_SCENARIOS as readonly string[]).includes(s)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}\n${USAGE}`);
  const seconds = Number(value('--seconds') ?? (quick ? 1 : 2));
  return {
    quick,
    scenarios: (picked as ScenarioId[] | undefined) ?? [...ALL_SCENARIOS],
    rounds: Number(value('--rounds') ?? (quick ? 1 : 3)),
    seconds,
    latencySeconds: quick ? 0 : 1,
    warmupSeconds: quick ? 0 : 1,
    connections: 16,
    benchSeries: quick ? 1000 : 5000,
    distinct: 10_000,
    bigBytes: quick ? 5e6 : 20e6,
    bigClients: quick ? 4 : 20,
    bigSeconds: quick ? 2 : 4,
    ttfbSamples: quick ? 2 : 7,
    bigRounds: quick ? 1 : 2,
    users: 10_000,
    policyRules: 1_000,
    rules: quick ? 500 : 5_000,
    nodeOptions: value('--node-options') ?? '',
    baseline: value('--baseline') ?? '',
    peer: !argv.includes('--no-peer'),
    help: argv.includes('--help') || argv.includes('-h'),
  };
}
