// examples/global-view.yaml (docs/global-view.md) loads as `promgate check` and `run` load it, with the route types it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCheckedConfig } from '../../src/wiring/load.js';
import { REPO_ROOT } from '../e2e/harness/promgate.js';

test('examples/global-view.yaml is accepted, with a victoriametrics, a thanos and a mimir route', () => {
  const cfg = loadCheckedConfig({ file: `${REPO_ROOT}examples/global-view.yaml`, env: {} });
  assert.deepEqual(
    cfg.routes.map((r) => [r.prefix, r.upstream.type, r.upstream.tenantHeader?.name]),
    [
      ['/global', 'victoriametrics', undefined],
      ['/thanos', 'thanos', 'THANOS-TENANT'],
      ['/mimir', 'mimir', 'X-Scope-OrgID'],
    ],
  );
  assert.equal(cfg.routes[0]!.upstream.regexDotAll, 'auto');
});
