// Per-request metrics kept as plain numbers on the hot path; prom-client reads them only when /metrics is scraped.
import type { Counter, Registry } from 'prom-client';

const OVERFLOW = '_overflow';

interface Cell {
  n: number;
  readonly labels: readonly [string, string, string, string];
}

/**
 * Counts requests by (route, method, status, tenant) in nested maps, so a request costs four map lookups on
 * strings V8 has already hashed (route names, method and tenant ids are the same string objects every time)
 * instead of building a key, hashing it and validating labels in prom-client. The counts are handed to the
 * prom-client Counter from its collect() hook, right before each scrape.
 */
export class RequestCounts {
  private readonly byRoute = new Map<string, Map<string, Map<number, Map<string, Cell>>>>();
  private readonly cells: Cell[] = [];

  constructor(private readonly max = 50_000) {}

  inc(route: string, method: string, status: number, tenant: string): void {
    let m = this.byRoute.get(route);
    if (!m) this.byRoute.set(route, (m = new Map()));
    let s = m.get(method);
    if (!s) m.set(method, (s = new Map()));
    let t = s.get(status);
    if (!t) s.set(status, (t = new Map()));
    // Bounded: tenants × routes × statuses is small, but never let a bug grow it without limit. Past the cap,
    // new tenants are counted together under tenant="_overflow" (one more cell per route, method and status).
    const key = t.has(tenant) || this.cells.length < this.max ? tenant : OVERFLOW;
    let c = t.get(key);
    if (!c) {
      c = { n: 0, labels: [route, method, String(status), key] };
      t.set(key, c);
      this.cells.push(c);
    }
    c.n++;
  }

  /** Moves the pending counts into the prom-client counter (without the tenant label when it has none). */
  flush(counter: Counter<string>, withTenant = true): void {
    for (const c of this.cells) {
      if (c.n === 0) continue;
      const [route, method, code, tenant] = c.labels;
      counter.inc(withTenant ? { route, method, code, tenant } : { route, method, code }, c.n);
      c.n = 0;
    }
  }
}

interface Series {
  readonly route: string;
  /** Non-cumulative count per bucket; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * promgate_request_duration_seconds: a histogram by route whose observe() is one bucket search and three
 * additions. It is registered with the registry as a metric object (name, help, type, get, reset) and renders
 * exactly as a prom-client Histogram does: cumulative `_bucket{le,route}`, `_sum`, `_count`.
 */
export class DurationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {}

  observe(route: string, seconds: number): void {
    let s = this.series.get(route);
    if (!s) {
      if (this.series.size >= 10_000) return;
      this.series.set(route, (s = { route, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }));
    }
    const b = this.buckets;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  reset(): void {
    this.series.clear();
  }

  get(): {
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, route: s.route }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', route: s.route }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { route: s.route }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { route: s.route }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  register(registry: Registry): void {
    // prom-client renders any registered object with this shape; its typings only name its own classes.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
