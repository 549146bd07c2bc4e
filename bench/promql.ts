// Micro-benchmark of PromQL enforcement: per-query cost uncached, lezer's parse floor, and cached hits.
import { parser } from '@prometheus-io/lezer-promql';
import { createPromqlEnforcer, enforceQuery } from '../src/enforce/promql/index.js';
import type { RestrictedTenant } from '../src/tenancy/tenant.js';

const quick = process.argv.includes('--quick');
const COUNT = quick ? 500 : 10000;
const WARMUP = quick ? 200 : 2000;

// A small seeded PRNG (mulberry32) so runs are comparable.
let seed = 0x5eed;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const id = (): string => Math.floor(rand() * 1e6).toString(36);

const METRICS = [
  'http_requests_total',
  'http_request_duration_seconds_bucket',
  'container_cpu_usage_seconds_total',
  'node_network_receive_bytes_total',
  'grpc_server_handled_total',
  'kube_pod_container_status_restarts_total',
];
const LABELS = ['job', 'instance', 'pod', 'container', 'handler', 'code', 'service', 'route', 'cluster'];
const WINDOWS = ['1m', '5m', '15m', '1h'];

function selector(): string {
  const n = 1 + Math.floor(rand() * 3);
  const ms: string[] = [];
  for (let i = 0; i < n; i++) {
    const op = pick(['=', '=', '=~', '!=', '!~']);
    ms.push(`${pick(LABELS)}${op}"${op.includes('~') ? `${id()}.*` : id()}"`);
  }
  return `${pick(METRICS)}_${id()}{${ms.join(', ')}}`;
}

function piece(): string {
  const by = `${pick(['by', 'without'])} (${pick(LABELS)}, ${pick(LABELS)})`;
  const w = pick(WINDOWS);
  switch (Math.floor(rand() * 6)) {
    case 0:
      return `histogram_quantile(0.${Math.floor(rand() * 99)}, sum ${by} (rate(${selector()}[${w}])))`;
    case 1:
      return `sum ${by} (rate(${selector()}[${w}] offset 1h))`;
    case 2:
      return `topk(5, sum ${by} (increase(${selector()}[${w}])))`;
    case 3:
      return `max_over_time((sum ${by} (irate(${selector()}[${w}])))[30m:1m])`;
    case 4:
      return `label_replace(${selector()}, "dst", "$1", "${pick(LABELS)}", "(.*)")`;
    default:
      return `(${selector()} or vector(0))`;
  }
}

function query(): string {
  let q = piece();
  while (q.length < 230) {
    const op = pick([
      ' / on(instance) group_left(pod) ',
      ' * ',
      ' + ignoring(code) ',
      ' > bool ',
      ' unless on(job) ',
      ' and ',
    ]);
    q += op + piece();
  }
  return q;
}

const tenant: RestrictedTenant = {
  unrestricted: false,
  id: 'team-a',
  constraints: [{ label: 'namespace', kind: 'values', values: ['team-a', 'team-a-staging'] }],
};

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${at(0.5).toFixed(1)} µs  p99 ${at(0.99).toFixed(1)} µs  mean ${mean.toFixed(1)} µs`;
};

function timeEach(qs: readonly string[], fn: (q: string) => unknown): number[] {
  const out: number[] = [];
  for (const q of qs) {
    const t0 = process.hrtime.bigint();
    fn(q);
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return out;
}

const warm = Array.from({ length: WARMUP }, query);
const qs = Array.from({ length: COUNT }, query);
const avgLen = qs.reduce((a, q) => a + q.length, 0) / qs.length;
for (const q of warm) enforceQuery(q, tenant);

console.log(`${COUNT} distinct queries, mean length ${avgLen.toFixed(0)} chars (${quick ? 'quick' : 'full'} run)`);
// Interleaved per query, so drift on a shared machine hits both columns alike.
const strict = parser.configure({ strict: true });
const parseTimes: number[] = [];
const enforceTimes: number[] = [];
for (const q of qs) {
  parseTimes.push(timeEach([q], (x) => strict.parse(x))[0]!);
  enforceTimes.push(timeEach([q], (x) => enforceQuery(x, tenant))[0]!);
}
console.log(`one lezer parse      ${stats(parseTimes)}`);
console.log(`enforce + verify     ${stats(enforceTimes)}  (one parse, the splice and the selector check)`);
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
// The machine-independent figure: on a shared machine both medians move together.
console.log(`enforce + verify / one parse: ${(med(enforceTimes) / med(parseTimes)).toFixed(2)}×`);

const enforcer = createPromqlEnforcer();
for (const q of qs) enforcer.query(q, tenant);
const rounds = 5;
const t0 = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) for (const q of qs) enforcer.query(q, tenant);
const hit = Number(process.hrtime.bigint() - t0) / 1000 / (rounds * qs.length);
console.log(`cached hit           mean ${hit.toFixed(2)} µs`);
