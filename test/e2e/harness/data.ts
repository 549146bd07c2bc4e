// The multi-tenant e2e data set: tenants, metrics and the exact value of every sample at every scrape.
/**
 * `scrape` below is n = 0, 1, 2, ... : how many times this scrape path was served before. Counters are
 * integers (or exact binary fractions) so sums are exact, and every tenant's values are its index k
 * (team-a = 1 ... tenantxd = 5) times team-a's, so a leak always changes a total.
 */
export const TENANTS = ['team-a', 'team-b', 'team-c', 'tenant.d', 'tenantxd'] as const;
export type Tenant = (typeof TENANTS)[number];

export const TEAMS: Readonly<Record<Tenant, string>> = {
  'team-a': 'red',
  'team-b': 'blue',
  'team-c': 'red',
  'tenant.d': 'green',
  tenantxd: 'green',
};

export const CODES = ['200', '500'] as const;
export const CPUS = ['0', '1'] as const;
export const CPU_MODES = { idle: 8, user: 2, system: 1 } as const;
/** Upper bounds of request_duration_seconds buckets, as exposed (the last is "+Inf"). */
export const BUCKETS = ['0.1', '0.5', '1', '+Inf'] as const;
/** Each scrape adds k observations of each of these durations (binary-exact, so _sum is exact). */
export const OBSERVATIONS = [0.0625, 0.25, 0.75, 2] as const;

/** k: 1 for team-a ... 5 for tenantxd. */
export const tenantK = (ns: Tenant): number => TENANTS.indexOf(ns) + 1;
export const podsOf = (ns: Tenant): string[] => [`${ns}-web-0`, `${ns}-web-1`];
export const versionOf = (ns: Tenant): string => `1.${TENANTS.indexOf(ns)}.0`;

/** Per-scrape increase of http_requests_total: k × (10 for 200, 1 for 500) × (1 for web-0, 2 for web-1). */
export function httpRequestsStep(ns: Tenant, podIndex: number, code: string): number {
  return tenantK(ns) * (code === '200' ? 10 : 1) * (podIndex + 1);
}
export function httpRequestsValue(ns: Tenant, podIndex: number, code: string, scrape: number): number {
  return httpRequestsStep(ns, podIndex, code) * (100 + scrape);
}
/** node_cpu_seconds_total: step = mode weight × (cpu + 1), value = step × (1000 + n). */
export function nodeCpuValue(cpu: string, mode: keyof typeof CPU_MODES, scrape: number): number {
  return CPU_MODES[mode] * (Number(cpu) + 1) * (1000 + scrape);
}
/** Cumulative bucket count: k × (number of OBSERVATIONS ≤ le) × (n + 1). */
export function bucketValue(ns: Tenant, le: string, scrape: number): number {
  const bound = le === '+Inf' ? Infinity : Number(le);
  return tenantK(ns) * OBSERVATIONS.filter((o) => o <= bound).length * (scrape + 1);
}
export const histogramCount = (ns: Tenant, scrape: number): number => bucketValue(ns, '+Inf', scrape);
export const histogramSum = (ns: Tenant, scrape: number): number =>
  tenantK(ns) * OBSERVATIONS.reduce((a, b) => a + b, 0) * (scrape + 1);

/** bench_series number i: tenant TENANTS[i % 5], 20 pods per tenant, value i. */
export function benchLabels(i: number): { namespace: Tenant; pod: string; instance_id: string } {
  const ns = TENANTS[i % TENANTS.length] as Tenant;
  return { namespace: ns, pod: `${ns}-bench-${Math.floor(i / TENANTS.length) % 20}`, instance_id: `i${i}` };
}

export type MetricType = 'counter' | 'gauge' | 'histogram';
export interface MetricDescription {
  /** Family name; a histogram's series are name_bucket, name_sum, name_count. */
  name: string;
  type: MetricType;
  help: string;
  /** Labels in the exposition (Prometheus adds job and instance to every series). */
  labels: readonly string[];
  /** False for shared infrastructure that no tenant may see. */
  tenantScoped: boolean;
}

export const METRICS: readonly MetricDescription[] = [
  {
    name: 'http_requests_total',
    type: 'counter',
    help: 'Requests by pod and code.',
    labels: ['namespace', 'pod', 'code'],
    tenantScoped: true,
  },
  {
    name: 'tenant_info',
    type: 'gauge',
    help: 'Tenant to team mapping, always 1.',
    labels: ['namespace', 'team'],
    tenantScoped: true,
  },
  {
    name: 'node_cpu_seconds_total',
    type: 'counter',
    help: 'Shared node CPU; no tenant.',
    labels: ['cpu', 'mode'],
    tenantScoped: false,
  },
  {
    name: 'build_version',
    type: 'gauge',
    help: 'Deployed version, always 1.',
    labels: ['namespace', 'version'],
    tenantScoped: true,
  },
  {
    name: 'request_duration_seconds',
    type: 'histogram',
    help: 'Request latency.',
    labels: ['namespace', 'le'],
    tenantScoped: true,
  },
  {
    name: 'bench_series',
    type: 'gauge',
    help: 'Benchmark cardinality, value = index.',
    labels: ['namespace', 'pod', 'instance_id'],
    tenantScoped: true,
  },
];

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample the exposition serves at scrape n (grouped by family, in METRICS order). */
export function samplesAt(scrape: number, benchSeries = 0): Sample[] {
  const s: Sample[] = [];
  for (const ns of TENANTS) {
    podsOf(ns).forEach((pod, p) => {
      for (const code of CODES) {
        s.push({
          name: 'http_requests_total',
          labels: { namespace: ns, pod, code },
          value: httpRequestsValue(ns, p, code, scrape),
        });
      }
    });
  }
  for (const ns of TENANTS) s.push({ name: 'tenant_info', labels: { namespace: ns, team: TEAMS[ns] }, value: 1 });
  for (const cpu of CPUS) {
    for (const mode of Object.keys(CPU_MODES) as (keyof typeof CPU_MODES)[]) {
      s.push({ name: 'node_cpu_seconds_total', labels: { cpu, mode }, value: nodeCpuValue(cpu, mode, scrape) });
    }
  }
  for (const ns of TENANTS)
    s.push({ name: 'build_version', labels: { namespace: ns, version: versionOf(ns) }, value: 1 });
  for (const ns of TENANTS) {
    for (const le of BUCKETS) {
      s.push({
        name: 'request_duration_seconds_bucket',
        labels: { namespace: ns, le },
        value: bucketValue(ns, le, scrape),
      });
    }
    s.push({ name: 'request_duration_seconds_sum', labels: { namespace: ns }, value: histogramSum(ns, scrape) });
    s.push({ name: 'request_duration_seconds_count', labels: { namespace: ns }, value: histogramCount(ns, scrape) });
  }
  for (let i = 0; i < benchSeries; i++) s.push({ name: 'bench_series', labels: benchLabels(i), value: i });
  return s;
}

/** Label sets of one series name (e.g. 'request_duration_seconds_bucket'), optionally for one tenant. */
export function seriesOf(name: string, ns?: Tenant, benchSeries = 0): Record<string, string>[] {
  return samplesAt(0, benchSeries)
    .filter((x) => x.name === name && (ns === undefined || x.labels.namespace === ns))
    .map((x) => x.labels);
}
