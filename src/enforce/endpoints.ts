// The endpoint table: every Prometheus and Alertmanager path promgate serves, its methods, and how it is enforced.
// Anything not listed here is refused with 404. Read top to bottom, this file is the security policy.

export type UpstreamKind = 'prometheus' | 'alertmanager' | 'victoriametrics';

export type Enforcement =
  /** Rewrite every `query` parameter (URL and form body). */
  | { kind: 'query' }
  /** Rewrite every `match[]`; add one made of the tenant matchers when none is given. */
  | { kind: 'match' }
  /** Read the upstream JSON answer and keep only the tenant's entries. */
  | { kind: 'filter'; filter: 'rules' | 'alerts' | 'targets' }
  /** Alertmanager alert reads: add tenant `filter` matchers, then filter the answer as defence in depth. */
  | { kind: 'am-alerts'; groups: boolean }
  /** Alertmanager silences list: keep only silences that belong to the tenant. */
  | { kind: 'am-silences' }
  /** POST a silence: its matchers must carry the tenant's; an update must target a silence the tenant owns. */
  | { kind: 'am-silence-post' }
  /** GET or DELETE one silence: checked upstream to belong to the tenant first. */
  | { kind: 'am-silence-id' }
  /** Answers that carry no series data (web UI assets and pages, build info, query formatting). */
  | { kind: 'public' }
  /** Leaks metric names across tenants; served only when the route sets allowMetadata, or to unrestricted tenants. */
  | { kind: 'metadata' }
  /** Refused (403) for tenants; `adminOk` lets an unrestricted tenant through. */
  | { kind: 'refuse'; reason: string; adminOk: boolean };

export interface Endpoint {
  /** Exact path, or a prefix ending in '/*', or a pattern with one '<param>' segment. */
  path: string;
  methods: readonly string[];
  upstream: UpstreamKind;
  enforce: Enforcement;
}

const R = ['GET', 'HEAD'] as const;
const RP = ['GET', 'POST'] as const;
const ANY = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const TSDB = 'status endpoints expose cross-tenant statistics (top label values, series counts, config)';
const WRITE = 'write, remote-read and admin APIs bypass label enforcement';

export const ENDPOINTS: readonly Endpoint[] = [
  // ---- Prometheus HTTP API (series data) ----
  { path: '/api/v1/query', methods: RP, upstream: 'prometheus', enforce: { kind: 'query' } },
  { path: '/api/v1/query_range', methods: RP, upstream: 'prometheus', enforce: { kind: 'query' } },
  { path: '/api/v1/query_exemplars', methods: RP, upstream: 'prometheus', enforce: { kind: 'query' } },
  { path: '/api/v1/series', methods: RP, upstream: 'prometheus', enforce: { kind: 'match' } },
  { path: '/api/v1/labels', methods: RP, upstream: 'prometheus', enforce: { kind: 'match' } },
  { path: '/api/v1/label/<name>/values', methods: R, upstream: 'prometheus', enforce: { kind: 'match' } },
  { path: '/federate', methods: R, upstream: 'prometheus', enforce: { kind: 'match' } },
  { path: '/api/v1/rules', methods: R, upstream: 'prometheus', enforce: { kind: 'filter', filter: 'rules' } },
  { path: '/api/v1/alerts', methods: R, upstream: 'prometheus', enforce: { kind: 'filter', filter: 'alerts' } },
  { path: '/api/v1/targets', methods: R, upstream: 'prometheus', enforce: { kind: 'filter', filter: 'targets' } },
  { path: '/api/v1/metadata', methods: R, upstream: 'prometheus', enforce: { kind: 'metadata' } },
  { path: '/api/v1/targets/metadata', methods: R, upstream: 'prometheus', enforce: { kind: 'metadata' } },
  // No series data: pure functions of the request, or the server's version.
  { path: '/api/v1/format_query', methods: RP, upstream: 'prometheus', enforce: { kind: 'public' } },
  { path: '/api/v1/parse_query', methods: RP, upstream: 'prometheus', enforce: { kind: 'public' } },
  { path: '/api/v1/status/buildinfo', methods: R, upstream: 'prometheus', enforce: { kind: 'public' } },
  {
    path: '/api/v1/status/*',
    methods: R,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: TSDB, adminOk: true },
  },
  {
    path: '/api/v1/alertmanagers',
    methods: R,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: 'lists shared infrastructure', adminOk: true },
  },
  {
    path: '/api/v1/admin/*',
    methods: ANY,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: WRITE, adminOk: false },
  },
  {
    path: '/api/v1/read',
    methods: ANY,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: WRITE, adminOk: false },
  },
  {
    path: '/api/v1/write',
    methods: ANY,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: WRITE, adminOk: false },
  },
  {
    path: '/api/v1/otlp/*',
    methods: ANY,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: WRITE, adminOk: false },
  },
  {
    path: '/api/v1/notifications/*',
    methods: ANY,
    upstream: 'prometheus',
    enforce: { kind: 'refuse', reason: 'server notifications are shared', adminOk: true },
  },
  // ---- Prometheus web UI: pages and assets only; every API call it makes goes through the entries above ----
  ...[
    '/',
    '/graph',
    '/graph/',
    '/query',
    '/alerts',
    '/rules',
    '/targets',
    '/service-discovery',
    '/status',
    '/tsdb-status',
    '/flags',
    '/config',
    '/agent',
    '/alertmanager-discovery',
    '/explore',
  ].map((path): Endpoint => ({ path, methods: R, upstream: 'prometheus', enforce: { kind: 'public' } })),
  ...[
    '/manifest.json',
    '/favicon.ico',
    '/favicon.svg',
    '/static/*',
    '/assets/*',
    '/classic/static/*',
    '/classic/graph',
    '/user/*',
    '/new/*',
  ].map((path): Endpoint => ({ path, methods: R, upstream: 'prometheus', enforce: { kind: 'public' } })),
  // Server-rendered pages that print cross-tenant data are not listed (so refused): /classic/{targets,config,status,
  // flags,rules,alerts,service-discovery,tsdb-status}, /consoles/*, /api/v1/status/* above.

  // ---- VictoriaMetrics (single node, or vmselect below /select/<accountID>/prometheus): its Prometheus API only ----
  // Every series read also carries promgate's extra_filters[] (enforce/request.ts). VictoriaMetrics reads
  // `match` beside `match[]` on every endpoint below, so both are rewritten. Not listed, so 404: the same API
  // again under /prometheus/*, the Graphite API (/render, /metrics/find, /tags/*: /tags/tagSeries writes),
  // /vmui/*, /graph/*, /vmalert/*, /flags, /metrics, /snapshot/*, /internal/*, /-/reload.
  ...(['/api/v1/query', '/api/v1/query_range', '/api/v1/query_exemplars'] as const).map((path): Endpoint => ({
    path,
    methods: RP,
    upstream: 'victoriametrics',
    enforce: { kind: 'query' },
  })),
  ...(
    [
      '/api/v1/series',
      '/api/v1/labels',
      '/api/v1/label/<name>/values',
      '/federate',
      // Raw samples of the selected series; the same getCommonParams (match[], match, extra_filters[]) as /series.
      '/api/v1/export',
      '/api/v1/export/csv',
      '/api/v1/export/native',
    ] as const
  ).map((path): Endpoint => ({ path, methods: RP, upstream: 'victoriametrics', enforce: { kind: 'match' } })),
  // Served by vmalert when VictoriaMetrics runs with -vmalert.proxyURL, else an empty list: filtered either way.
  { path: '/api/v1/rules', methods: R, upstream: 'victoriametrics', enforce: { kind: 'filter', filter: 'rules' } },
  { path: '/api/v1/alerts', methods: R, upstream: 'victoriametrics', enforce: { kind: 'filter', filter: 'alerts' } },
  { path: '/api/v1/targets', methods: R, upstream: 'victoriametrics', enforce: { kind: 'filter', filter: 'targets' } },
  { path: '/api/v1/metadata', methods: R, upstream: 'victoriametrics', enforce: { kind: 'metadata' } },
  { path: '/api/v1/status/buildinfo', methods: R, upstream: 'victoriametrics', enforce: { kind: 'public' } },
  {
    // tsdb (cardinality), active_queries and top_queries (other tenants' query texts).
    path: '/api/v1/status/*',
    methods: R,
    upstream: 'victoriametrics',
    enforce: { kind: 'refuse', reason: TSDB, adminOk: true },
  },
  {
    path: '/api/v1/series/count',
    methods: R,
    upstream: 'victoriametrics',
    enforce: { kind: 'refuse', reason: "counts every tenant's series", adminOk: true },
  },
  ...['/api/v1/admin/*', '/api/v1/import', '/api/v1/import/*', '/api/v1/write', '/api/v1/read'].map(
    (path): Endpoint => ({
      path,
      methods: ANY,
      upstream: 'victoriametrics',
      enforce: { kind: 'refuse', reason: WRITE, adminOk: false },
    }),
  ),

  // ---- Alertmanager API v2 ----
  { path: '/api/v2/alerts', methods: R, upstream: 'alertmanager', enforce: { kind: 'am-alerts', groups: false } },
  { path: '/api/v2/alerts/groups', methods: R, upstream: 'alertmanager', enforce: { kind: 'am-alerts', groups: true } },
  {
    path: '/api/v2/silences',
    methods: ['GET', 'HEAD', 'POST'],
    upstream: 'alertmanager',
    enforce: { kind: 'am-silences' },
  },
  {
    path: '/api/v2/silence/<id>',
    methods: ['GET', 'HEAD', 'DELETE'],
    upstream: 'alertmanager',
    enforce: { kind: 'am-silence-id' },
  },
  {
    path: '/api/v2/status',
    methods: R,
    upstream: 'alertmanager',
    enforce: { kind: 'refuse', reason: 'exposes the shared Alertmanager configuration', adminOk: true },
  },
  {
    path: '/api/v2/receivers',
    methods: R,
    upstream: 'alertmanager',
    enforce: { kind: 'refuse', reason: "lists every tenant's receivers", adminOk: true },
  },
  ...['/', '/script.js', '/favicon.ico', '/lib/*'].map((path): Endpoint => ({
    path,
    methods: R,
    upstream: 'alertmanager',
    enforce: { kind: 'public' },
  })),
];

export interface EndpointMatch {
  endpoint: Endpoint;
  param?: string;
}

type Index = { exact: Map<string, Endpoint>; prefixes: Endpoint[]; params: Endpoint[] };

function buildIndex(kind: UpstreamKind): Index {
  const idx: Index = { exact: new Map(), prefixes: [], params: [] };
  for (const e of ENDPOINTS) {
    if (e.upstream !== kind) continue;
    if (e.path.endsWith('/*')) idx.prefixes.push(e);
    else if (e.path.includes('<')) idx.params.push(e);
    else idx.exact.set(e.path, e);
  }
  // Longest prefix first so /api/v1/status/buildinfo (exact) and /api/v1/status/* resolve as written.
  idx.prefixes.sort((a, b) => b.path.length - a.path.length);
  return idx;
}

const INDEXES: Record<UpstreamKind, Index> = {
  prometheus: buildIndex('prometheus'),
  alertmanager: buildIndex('alertmanager'),
  victoriametrics: buildIndex('victoriametrics'),
};

const PARAM_SEGMENT = /^[^/]+$/;

/** Find the table entry for a decoded, route-relative path. Undefined means "not served" (404). */
export function matchEndpoint(kind: UpstreamKind, path: string): EndpointMatch | undefined {
  const idx = INDEXES[kind];
  const exact = idx.exact.get(path);
  if (exact) return { endpoint: exact };
  for (const e of idx.params) {
    const [before, after] = e.path.split(/<[a-z]+>/) as [string, string];
    if (path.length > before.length + after.length && path.startsWith(before) && path.endsWith(after)) {
      const param = path.slice(before.length, path.length - after.length);
      if (PARAM_SEGMENT.test(param)) return { endpoint: e, param };
    }
  }
  for (const e of idx.prefixes) {
    const base = e.path.slice(0, -1);
    if (path.startsWith(base) && path.length > base.length) return { endpoint: e };
  }
  return undefined;
}
