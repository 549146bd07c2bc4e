// The endpoint table: served paths, their enforcement, and refusal of everything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchEndpoint } from '../../src/enforce/endpoints.js';

const CASES: [kind: 'prometheus' | 'alertmanager' | 'victoriametrics', path: string, expected: string | undefined][] = [
  ['prometheus', '/api/v1/query', 'query'],
  ['prometheus', '/api/v1/query_range', 'query'],
  ['prometheus', '/api/v1/query_exemplars', 'query'],
  ['prometheus', '/api/v1/series', 'match'],
  ['prometheus', '/api/v1/labels', 'match'],
  ['prometheus', '/api/v1/label/job/values', 'match'],
  ['prometheus', '/api/v1/label/__name__/values', 'match'],
  ['prometheus', '/federate', 'match'],
  ['prometheus', '/api/v1/rules', 'filter'],
  ['prometheus', '/api/v1/alerts', 'filter'],
  ['prometheus', '/api/v1/targets', 'filter'],
  ['prometheus', '/api/v1/metadata', 'metadata'],
  ['prometheus', '/api/v1/targets/metadata', 'metadata'],
  ['prometheus', '/api/v1/status/buildinfo', 'public'],
  ['prometheus', '/api/v1/status/tsdb', 'refuse'],
  ['prometheus', '/api/v1/status/config', 'refuse'],
  ['prometheus', '/api/v1/admin/tsdb/delete_series', 'refuse'],
  ['prometheus', '/api/v1/read', 'refuse'],
  ['prometheus', '/api/v1/write', 'refuse'],
  ['prometheus', '/api/v1/otlp/v1/metrics', 'refuse'],
  ['prometheus', '/graph', 'public'],
  ['prometheus', '/static/js/main.js', 'public'],
  ['prometheus', '/classic/static/x.css', 'public'],
  ['prometheus', '/classic/targets', undefined],
  // The UI under a cluster's path (docs/portal.md): the graph pages and their assets; not the pages that print
  // every tenant's data on the server.
  ['prometheus', '/classic/graph', 'public'],
  ['prometheus', '/query', 'public'],
  ['prometheus', '/manifest.json', 'public'],
  ['prometheus', '/favicon.ico', 'public'],
  ...['service-discovery', 'config', 'flags', 'status', 'alerts', 'rules', 'tsdb-status'].map(
    (p): [kind: 'prometheus', path: string, expected: undefined] => ['prometheus', `/classic/${p}`, undefined],
  ),
  ['prometheus', '/version', undefined],
  ['prometheus', '/consoles/index.html', undefined],
  ['prometheus', '/api/v1/label//values', undefined],
  ['prometheus', '/api/v1/label/a/b/values', undefined],
  ['prometheus', '/api/v1/unknown', undefined],
  ['prometheus', '/api/v2/alerts', undefined],
  ['prometheus', '/metrics', undefined],
  ['victoriametrics', '/api/v1/query', 'query'],
  ['victoriametrics', '/api/v1/query_range', 'query'],
  ['victoriametrics', '/api/v1/series', 'match'],
  ['victoriametrics', '/api/v1/labels', 'match'],
  ['victoriametrics', '/api/v1/label/cluster/values', 'match'],
  ['victoriametrics', '/federate', 'match'],
  ['victoriametrics', '/api/v1/export', 'match'],
  ['victoriametrics', '/api/v1/export/csv', 'match'],
  ['victoriametrics', '/api/v1/export/native', 'match'],
  ['victoriametrics', '/api/v1/rules', 'filter'],
  ['victoriametrics', '/api/v1/status/buildinfo', 'public'],
  ['victoriametrics', '/api/v1/status/tsdb', 'refuse'],
  ['victoriametrics', '/api/v1/status/top_queries', 'refuse'],
  ['victoriametrics', '/api/v1/status/active_queries', 'refuse'],
  ['victoriametrics', '/api/v1/series/count', 'refuse'],
  ['victoriametrics', '/api/v1/import', 'refuse'],
  ['victoriametrics', '/api/v1/import/prometheus', 'refuse'],
  ['victoriametrics', '/api/v1/admin/tsdb/delete_series', 'refuse'],
  ['victoriametrics', '/api/v1/write', 'refuse'],
  // The Prometheus web UI's pages and VictoriaMetrics' own extras are not served on a victoriametrics route.
  ['victoriametrics', '/graph', undefined],
  ['victoriametrics', '/targets', undefined],
  ['victoriametrics', '/config', undefined],
  ['victoriametrics', '/flags', undefined],
  ['victoriametrics', '/vmui/', undefined],
  ['victoriametrics', '/prometheus/api/v1/query', undefined],
  ['victoriametrics', '/tags/autoComplete/tags', undefined],
  ['victoriametrics', '/api/v1/format_query', undefined],
  ['alertmanager', '/api/v2/alerts', 'am-alerts'],
  ['alertmanager', '/api/v2/alerts/groups', 'am-alerts'],
  ['alertmanager', '/api/v2/silences', 'am-silences'],
  ['alertmanager', '/api/v2/silence/0f6e3b2a-1c1d-4c8e-9a65-1b9a3f0c2d11', 'am-silence-id'],
  ['alertmanager', '/api/v2/status', 'refuse'],
  ['alertmanager', '/api/v2/receivers', 'refuse'],
  ['alertmanager', '/api/v1/alerts', undefined],
  ['alertmanager', '/api/v1/query', undefined],
];

for (const [kind, path, expected] of CASES) {
  test(`${kind} ${path} → ${expected ?? 'not served'}`, () => {
    assert.equal(matchEndpoint(kind, path)?.endpoint.enforce.kind, expected);
  });
}

test('label name parameter is extracted', () => {
  assert.equal(matchEndpoint('prometheus', '/api/v1/label/namespace/values')?.param, 'namespace');
});
