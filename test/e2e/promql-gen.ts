// Seeded random PromQL generator for the property test: typed ASTs over the e2e metrics, rendered bare or with extra matchers in every selector.

/** A deterministic PRNG (mulberry32): same seed, same sequence, on every platform. */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Quote = '"' | "'" | '`';

export interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  /** The value as Prometheus sees it after unquoting. */
  value: string;
  quote: Quote;
}

export interface Modifiers {
  offset?: string;
  /** A number (seconds) or `start()` / `end()`. */
  at?: string;
  /** Render `@` before `offset`. */
  atFirst?: boolean;
}

export type Node =
  | ({
      t: 'sel';
      name?: string;
      nameAsMatcher: boolean;
      matchers: LabelMatcher[];
      emptyBraces: boolean;
      trailingComma: boolean;
      range?: string;
    } & Modifiers)
  | { t: 'num'; text: string }
  | { t: 'str'; value: string }
  | { t: 'call'; fn: string; args: Node[] }
  | {
      t: 'agg';
      op: string;
      param?: Node;
      grouping?: { without: boolean; labels: string[]; after: boolean };
      expr: Node;
    }
  | {
      t: 'bin';
      op: string;
      bool: boolean;
      lhs: Node;
      rhs: Node;
      match?: { on: boolean; labels: string[] };
      group?: { side: 'left' | 'right'; labels: string[] };
    }
  | { t: 'neg'; expr: Node }
  | ({ t: 'sub'; expr: Node; range: string; step: string } & Modifiers)
  | { t: 'comment'; expr: Node; text: string };

/** The metrics the e2e exposition and rules produce, including shared ones no tenant may see; repeats weight the pick. */
export const GEN_METRICS = [
  'http_requests_total',
  'http_requests_total',
  'http_requests_total',
  'tenant_info',
  'tenant_info',
  'build_version',
  'request_duration_seconds_bucket',
  'request_duration_seconds_sum',
  'namespace:http_requests:rate1m',
  'namespace:http_requests:rate1m',
  'node_cpu_seconds_total',
  'team_b:static_marker',
  'up',
  'ALERTS',
] as const;

const LABELS = ['namespace', 'pod', 'code', 'le', 'team', 'version', 'job', 'instance', 'cpu', 'mode', 'alertname'];
const DURATIONS = ['30s', '1m', '90s', '2m', '5m', '1m30s'];
const STEPS = ['', '10s', '15s', '30s'];
const NUMBERS = ['0', '1', '2', '3', '0.5', '10', '1e2', '100', '-1', '0.25', 'Inf', 'NaN', '0x10'];

/** Matchers a user might write, including other tenants' namespaces and regexes that span tenants. */
const USER_MATCHERS: readonly [string, LabelMatcher['op'], string][] = [
  ['namespace', '=', 'team-a'],
  ['namespace', '=', 'team-b'],
  ['namespace', '=', 'team-c'],
  ['namespace', '=', 'tenant.d'],
  ['namespace', '=', 'tenantxd'],
  ['namespace', '!=', 'team-a'],
  ['namespace', '!=', ''],
  ['namespace', '=~', 'team-.*'],
  ['namespace', '=~', 'tenant.d'],
  ['namespace', '=~', 'tenant\\.d'],
  ['namespace', '=~', 'team-b|team-c'],
  ['namespace', '=~', '.+'],
  ['namespace', '=~', '.*'],
  ['namespace', '!~', 'team-(a|b)'],
  ['namespace', '!~', 'tenant.*'],
  ['code', '=', '500'],
  ['code', '!=', '200'],
  ['pod', '=~', '.*-web-1'],
  ['pod', '=~', 'team-a-web-\\d'],
  ['le', '=', '+Inf'],
  ['le', '=~', '0\\.5|1'],
  ['cpu', '=', '0'],
  ['mode', '=~', 'idle|user'],
  ['team', '=', 'red'],
  ['team', '!=', 'blue'],
  ['version', '=~', '1\\.[0-2]\\.0'],
  ['job', '=', 'tenants'],
  ['alertname', '=', 'HighErrorRate'],
  ['__name__', '=~', 'http_.*'],
];

const VECTOR_FNS = [
  'abs',
  'ceil',
  'floor',
  'round',
  'sqrt',
  'exp',
  'ln',
  'log2',
  'log10',
  'sgn',
  'timestamp',
  'sort',
  'sort_desc',
];
const RANGE_FNS = [
  'rate',
  'increase',
  'delta',
  'irate',
  'idelta',
  'deriv',
  'changes',
  'resets',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'present_over_time',
  'absent_over_time',
];
const AGGS = ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'group'];
const ARITH = ['+', '-', '*', '/', '%', '^', 'atan2'];
const COMPARE = ['==', '!=', '>', '<', '>=', '<='];
const SETOPS = ['and', 'or', 'unless'];

export interface GenOptions {
  /** Evaluation time (seconds) for `@` modifiers; @ uses it or a bit before it. */
  time: number;
  maxDepth?: number;
  /**
   * Generate holt_winters (Prometheus 2.x only; Prometheus 3 renamed it double_exponential_smoothing).
   * On by default: the test Prometheus is 2.42, and promgate accepts the 2.x name.
   */
  holtWinters?: boolean;
}

export class PromqlGen {
  private readonly r: Rng;
  private readonly o: Required<GenOptions>;

  constructor(rng: Rng, opts: GenOptions) {
    this.r = rng;
    this.o = { maxDepth: 4, holtWinters: true, ...opts };
  }

  /** One random expression of any type (mostly instant vectors). */
  expr(): Node {
    const n = this.chance(0.1) ? this.scalar(this.o.maxDepth) : this.vector(this.o.maxDepth);
    return this.chance(0.03) ? { t: 'comment', expr: n, text: ' # tenant ' } : n;
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }
  private chance(p: number): boolean {
    return this.r() < p;
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  private labels(max: number): string[] {
    const out = new Set<string>();
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) out.add(this.pick(LABELS));
    return [...out];
  }

  private modifiers(): Modifiers {
    const m: Modifiers = {};
    // The stack has only seconds of history at test time: offsets and @ stay within it (mostly).
    if (this.chance(0.15)) m.offset = this.pick(['1s', '2s', '3s', '1m']);
    if (this.chance(0.12)) {
      m.at = this.pick([this.o.time.toFixed(3), (this.o.time - 2).toFixed(3), 'start()', 'end()']);
      m.atFirst = this.chance(0.5);
    }
    return m;
  }

  private matcher(named: boolean): LabelMatcher {
    let [name, op, value] = this.pick(USER_MATCHERS);
    // A name and a __name__ matcher together are a parse error; a few are enough to compare errors.
    if (named && name === '__name__' && this.chance(0.8)) [name, op, value] = USER_MATCHERS[0]!;
    let quote: Quote = this.pick(['"', '"', "'", '`'] as const);
    if (quote === '`' && value.includes('`')) quote = '"';
    return { name, op, value, quote };
  }

  selector(range?: string): Node {
    const hasName = this.chance(0.9);
    const matchers: LabelMatcher[] = [];
    const count = this.chance(0.35) ? 1 + this.int(2) : 0;
    for (let i = 0; i < count; i++) matchers.push(this.matcher(hasName));
    // A selector without a name needs a matcher that does not match the empty string.
    if (!hasName && !matchers.some((m) => m.op === '=' && m.value !== ''))
      matchers.push({ name: 'namespace', op: '=', value: this.pick(['team-a', 'team-b', 'tenant.d']), quote: '"' });
    return {
      t: 'sel',
      name: hasName ? this.pick(GEN_METRICS) : undefined,
      nameAsMatcher: hasName && this.chance(0.1),
      matchers,
      emptyBraces: this.chance(0.1),
      trailingComma: matchers.length > 0 && this.chance(0.05),
      range,
      ...this.modifiers(),
    };
  }

  private matrix(depth: number): Node {
    if (depth <= 0 || this.chance(0.75)) return this.selector(this.pick(DURATIONS));
    return {
      t: 'sub',
      expr: this.vector(depth - 1),
      range: this.pick(DURATIONS),
      step: this.pick(STEPS),
      ...this.modifiers(),
    };
  }

  scalar(depth: number): Node {
    const roll = depth <= 0 ? 0 : this.r();
    if (roll < 0.45) return { t: 'num', text: this.pick(NUMBERS) };
    if (roll < 0.8) return { t: 'call', fn: 'scalar', args: [this.vector(depth - 1)] };
    if (roll < 0.88) return { t: 'call', fn: 'time', args: [] };
    const op = this.pick([...ARITH, ...COMPARE]);
    return { t: 'bin', op, bool: COMPARE.includes(op), lhs: this.scalar(depth - 1), rhs: this.scalar(depth - 1) };
  }

  vector(depth: number): Node {
    if (depth <= 0) return this.selector();
    const d = depth - 1;
    const roll = this.r();
    if (roll < 0.2) return this.selector();
    if (roll < 0.3) return { t: 'call', fn: this.pick(RANGE_FNS), args: [this.matrix(d)] };
    if (roll < 0.35) return this.rangeWithParam(d);
    if (roll < 0.42) return this.vectorFn(d);
    if (roll < 0.56) return this.aggregation(d);
    if (roll < 0.63) return this.paramAggregation(d);
    if (roll < 0.8) return this.binary(d);
    if (roll < 0.84) return { t: 'neg', expr: this.vector(d) };
    if (roll < 0.89) return this.labelFn(d);
    if (roll < 0.93) return { t: 'call', fn: 'absent', args: [this.vector(d)] };
    if (roll < 0.96) return this.histogramQuantile(d);
    return { t: 'call', fn: 'vector', args: [this.scalar(d)] };
  }

  private rangeWithParam(d: number): Node {
    const which = this.int(this.o.holtWinters ? 3 : 2);
    if (which === 0) return { t: 'call', fn: 'quantile_over_time', args: [this.scalar(d), this.matrix(d)] };
    if (which === 1) return { t: 'call', fn: 'predict_linear', args: [this.matrix(d), this.scalar(d)] };
    return {
      t: 'call',
      fn: 'holt_winters',
      args: [this.matrix(d), { t: 'num', text: '0.5' }, { t: 'num', text: '0.5' }],
    };
  }

  private vectorFn(d: number): Node {
    const which = this.int(4);
    if (which === 0)
      return { t: 'call', fn: this.pick(['clamp_min', 'clamp_max']), args: [this.vector(d), this.scalar(d)] };
    if (which === 1) return { t: 'call', fn: 'clamp', args: [this.vector(d), this.scalar(d), this.scalar(d)] };
    if (which === 2) return { t: 'call', fn: 'round', args: [this.vector(d), this.scalar(d)] };
    return { t: 'call', fn: this.pick(VECTOR_FNS), args: [this.vector(d)] };
  }

  private grouping(): { without: boolean; labels: string[]; after: boolean } | undefined {
    if (this.chance(0.35)) return undefined;
    return { without: this.chance(0.3), labels: this.labels(2), after: this.chance(0.3) };
  }

  private aggregation(d: number): Node {
    return { t: 'agg', op: this.pick(AGGS), grouping: this.grouping(), expr: this.vector(d) };
  }

  private paramAggregation(d: number): Node {
    const op = this.pick(['topk', 'bottomk', 'quantile', 'count_values']);
    // count_values never writes `namespace`: a constructed namespace value would look like a leak.
    const param: Node =
      op === 'count_values'
        ? { t: 'str', value: this.pick(['value', 'v']) }
        : this.chance(0.5)
          ? { t: 'call', fn: 'scalar', args: [this.vector(d)] }
          : this.scalar(d);
    return { t: 'agg', op, param, grouping: this.grouping(), expr: this.vector(d) };
  }

  private binary(d: number): Node {
    const shape = this.r();
    if (shape < 0.3) {
      const op = this.pick([...ARITH, ...COMPARE]);
      const bool = COMPARE.includes(op) && this.chance(0.3);
      return shape < 0.2
        ? { t: 'bin', op, bool, lhs: this.vector(d), rhs: this.scalar(d) }
        : { t: 'bin', op, bool, lhs: this.scalar(d), rhs: this.vector(d) };
    }
    const set = shape < 0.55;
    const op = set ? this.pick(SETOPS) : this.pick([...ARITH, ...COMPARE]);
    const node: Node = {
      t: 'bin',
      op,
      bool: !set && COMPARE.includes(op) && this.chance(0.3),
      lhs: this.vector(d),
      rhs: this.vector(d),
    };
    // Matching on namespace is what dashboards do (and what keeps many of these answers non-empty).
    if (this.chance(0.7))
      node.match = this.chance(0.5)
        ? { on: true, labels: ['namespace', ...this.labels(1)] }
        : { on: this.chance(0.4), labels: this.labels(2) };
    if (!set && node.match && this.chance(0.35)) {
      // group_left/right never copies `namespace` from the other side: only tenant data can be there anyway,
      // but the leak check should not depend on that reasoning.
      node.group = {
        side: this.chance(0.5) ? 'left' : 'right',
        labels: this.labels(1).filter((l) => l !== 'namespace'),
      };
    }
    return node;
  }

  private labelFn(d: number): Node {
    // Never writes `namespace`: it only copies or rewrites other labels.
    const dst = this.pick(['dst', 'pod', 'team', 'code']);
    if (this.chance(0.6)) {
      const src = this.pick(['namespace', 'pod', 'team', 'code', 'le']);
      const regex = this.pick(['(.*)', 'team-(.*)', '(.+)-web-(\\d)', '']);
      return {
        t: 'call',
        fn: 'label_replace',
        args: [this.vector(d), str(dst), str(this.pick(['$1', 'x-$1', '$2', 'fixed'])), str(src), str(regex)],
      };
    }
    return {
      t: 'call',
      fn: 'label_join',
      args: [
        this.vector(d),
        str(dst),
        str(this.pick(['-', ',', ''])),
        str('namespace'),
        str(this.pick(['pod', 'code', 'team'])),
      ],
    };
  }

  private histogramQuantile(d: number): Node {
    const inner: Node = this.chance(0.5)
      ? { t: 'call', fn: 'rate', args: [this.selector(this.pick(DURATIONS))] }
      : {
          t: 'agg',
          op: 'sum',
          grouping: { without: false, labels: ['le', ...this.labels(1)], after: false },
          expr: { t: 'call', fn: 'rate', args: [this.matrix(d)] },
        };
    return {
      t: 'call',
      fn: 'histogram_quantile',
      args: [this.chance(0.7) ? { t: 'num', text: this.pick(['0.5', '0.9', '0.99']) } : this.scalar(d), inner],
    };
  }
}

function str(value: string): Node {
  return { t: 'str', value };
}

/** Quote a string literal; the three PromQL forms all mean the same value. */
export function quote(value: string, q: Quote = '"'): string {
  if (q === '`') return `\`${value}\``;
  const esc = value
    .replace(/\\/g, '\\\\')
    .replace(q === '"' ? /"/g : /'/g, `\\${q}`)
    .replace(/\n/g, '\\n');
  return `${q}${esc}${q}`;
}

function renderMatcher(m: LabelMatcher): string {
  return `${m.name}${m.op}${quote(m.value, m.quote)}`;
}

function renderModifiers(m: Modifiers): string {
  const off = m.offset ? ` offset ${m.offset}` : '';
  const at = m.at ? ` @ ${m.at}` : '';
  return m.atFirst ? at + off : off + at;
}

function renderGrouping(g: { without: boolean; labels: string[] } | undefined): string {
  return g ? `${g.without ? 'without' : 'by'} (${g.labels.join(', ')})` : '';
}

/**
 * Render a tree. `extra` (e.g. `namespace="team-a"`) is appended after the user's own matchers in
 * every selector, which is what a correct enforcer must be equivalent to.
 */
export function render(n: Node, extra?: string): string {
  switch (n.t) {
    case 'sel': {
      const parts = n.matchers.map(renderMatcher);
      if (n.name && n.nameAsMatcher) parts.unshift(`__name__=${quote(n.name)}`);
      const head = n.name && !n.nameAsMatcher ? n.name : '';
      let body: string;
      if (extra !== undefined) body = `{${[...parts, extra].join(',')}}`;
      else if (parts.length > 0) body = `{${parts.join(',')}${n.trailingComma ? ',' : ''}}`;
      else body = n.emptyBraces || !head ? '{}' : '';
      return `${head}${body}${n.range ? `[${n.range}]` : ''}${renderModifiers(n)}`;
    }
    case 'num':
      return n.text;
    case 'str':
      return quote(n.value);
    case 'call':
      return `${n.fn}(${n.args.map((a) => render(a, extra)).join(', ')})`;
    case 'agg': {
      const g = renderGrouping(n.grouping);
      const args = `(${n.param ? `${render(n.param, extra)}, ` : ''}${render(n.expr, extra)})`;
      if (!g) return `${n.op}${args}`;
      return n.grouping!.after ? `${n.op}${args} ${g}` : `${n.op} ${g} ${args}`;
    }
    case 'bin': {
      let mod = n.bool ? ' bool' : '';
      if (n.match) mod += ` ${n.match.on ? 'on' : 'ignoring'}(${n.match.labels.join(', ')})`;
      if (n.group) mod += ` group_${n.group.side}(${n.group.labels.join(', ')})`;
      return `(${render(n.lhs, extra)} ${n.op}${mod} ${render(n.rhs, extra)})`;
    }
    case 'neg':
      return `-(${render(n.expr, extra)})`;
    case 'sub':
      return `(${render(n.expr, extra)})[${n.range}:${n.step}]${renderModifiers(n)}`;
    case 'comment':
      return `${render(n.expr, extra)}${n.text}\n`;
  }
}

/** Every selector in a tree (for tests of the generator itself). */
export function selectors(n: Node): Extract<Node, { t: 'sel' }>[] {
  switch (n.t) {
    case 'sel':
      return [n];
    case 'num':
    case 'str':
      return [];
    case 'call':
      return n.args.flatMap(selectors);
    case 'agg':
      return [...(n.param ? selectors(n.param) : []), ...selectors(n.expr)];
    case 'bin':
      return [...selectors(n.lhs), ...selectors(n.rhs)];
    case 'neg':
    case 'sub':
    case 'comment':
      return selectors(n.expr);
  }
}

/**
 * Not a leak: `absent(…)` / `absent_over_time(…)` answer 1 with the labels of the query's own equality matchers
 * when nothing matches (Prometheus and VictoriaMetrics alike), so `absent({namespace="other"})` names `other`
 * because the client wrote it, while the tenant matcher makes the selector match nothing. True only for such an
 * answer: an absent() query, every value 1, and `namespace` written in the query as an equality matcher.
 */
export function absentNamesWrittenNamespace(
  query: string,
  namespace: string,
  rows: readonly [string, readonly [number, string][]][],
): boolean {
  if (!/\babsent(_over_time)?\(/.test(query)) return false;
  if (!rows.every(([, points]) => points.every(([, v]) => v === '1'))) return false;
  const v = namespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`namespace\\s*=\\s*["'\`]${v}["'\`]`).test(query);
}
