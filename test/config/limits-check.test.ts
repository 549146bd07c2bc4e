// `promgate check` on limits: each bad input is refused with its file, line and key path; a good one passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PROMGATE_ENTRY, REPO_ROOT } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';

const dir = makeTempDir('limits-check');
process.on('exit', () => dir.remove());
let n = 0;

/** Runs the real CLI on a config made of the base plus `extra` (YAML appended at the top level). */
function check(extra: string): { code: number | null; err: string; file: string } {
  const file = dir.file(`c${n++}.yaml`);
  writeFileSync(
    file,
    `routes:\n  - name: prom\n    upstream: { url: "http://127.0.0.1:9090" }\nauth: { anonymous: true }\n${extra}`,
  );
  const r = spawnSync(process.execPath, [PROMGATE_ENTRY, 'check', '--config', file], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, err: r.stderr, file };
}

const ROWS: [string, string, RegExp][] = [
  ['a zero rate', 'limits:\n  rate: { rate: 0, burst: 5 }\n', /:6: limits\.rate\.rate: must be greater than 0/],
  [
    'a negative rate',
    'limits:\n  routes:\n    prom:\n      rate: { rate: -1, burst: 5 }\n',
    /:8: limits\.routes\.prom\.rate\.rate: must be greater than 0/,
  ],
  [
    'a negative rate in a tenant rule',
    'tenants:\n  rules:\n    - match: { users: [x] }\n      labels: { namespace: x }\n      limits: { rate: { rate: -2, burst: 1 } }\n',
    /:9: tenants\.rules\[0\]\.limits\.rate\.rate: must be greater than 0/,
  ],
  ['a burst below 1', 'limits:\n  rate: { rate: 5, burst: 0.5 }\n', /:6: limits\.rate\.burst: must be at least 1/],
  [
    'a maxQueryRange below the step',
    'limits:\n  query: { maxQueryRange: 30s, minStep: 1m }\n',
    /:6: limits\.query\.maxQueryRange: maxQueryRange \(30000 ms\) is below the step \(minStep 60000 ms\)/,
  ],
  [
    "a route's maxQueryRange below the global minStep",
    'limits:\n  query: { minStep: 1m }\n  routes:\n    prom:\n      query: { maxQueryRange: 10s }\n',
    /:9: limits\.routes\.prom\.query\.maxQueryRange: maxQueryRange \(10000 ms\) is below the step/,
  ],
  [
    'a zero maxQueryRange',
    'limits:\n  query: { maxQueryRange: 0s }\n',
    /:6: limits\.query\.maxQueryRange: must be greater than 0/,
  ],
  [
    'a limit naming an unknown route',
    'limits:\n  routes:\n    promm:\n      rate: { rate: 1, burst: 1 }\n',
    /:7: limits\.routes\.promm: names no route \(known: prom\)/,
  ],
  ['limits.redis without a URL', 'limits:\n  redis: { keyPrefix: "x:" }\n', /:6: limits\.redis: needs url/],
  [
    'a cost above the burst',
    'limits:\n  rate: { rate: 1, burst: 2, costs: { /api/v1/query_range: 5 } }\n',
    /:6: limits\.rate\.costs\.\/api\/v1\/query_range: cost 5 is above burst 2/,
  ],
];

for (const [what, extra, want] of ROWS) {
  test(`check refuses ${what}`, () => {
    const r = check(extra);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, new RegExp(`c\\d+\\.yaml${want.source}`), r.err);
  });
}

test('check accepts a full limits section (control row)', () => {
  const r = check(`limits:
  query: { maxQueryRange: 31d, maxLookback: 90d, maxSelectorRange: 30d, minStep: 1s, queryTimeout: 1m, maxSeriesRange: 7d }
  rate: { rate: 10, burst: 20, costs: { /api/v1/query_range: 2 }, failOpen: false }
  concurrency: { route: 64, tenant: 8, queue: 16, queueTimeout: 2s, status: 429 }
  redis: { url: "redis://127.0.0.1:6379" }
  routes:
    prom:
      query: { maxQueryRange: 7d }
`);
  assert.equal(r.code, 0, r.err);
});

test("limits.redis may share the session store's Redis", () => {
  const file = dir.file('shared.yaml');
  writeFileSync(
    file,
    `routes:\n  - upstream: { url: "http://127.0.0.1:9090" }\nauth:\n  oidc:\n    issuerUrl: https://idp.example.com\n    clientId: x\n    clientSecret: y\n    cookie: { secret: "${'s'.repeat(32)}" }\n    sessionStore: redis\n    redisUrl: redis://127.0.0.1:6379\nlimits:\n  redis: {}\n`,
  );
  const r = spawnSync(process.execPath, [PROMGATE_ENTRY, 'check', '--config', file], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.doesNotMatch(r.stderr, /limits\.redis/, r.stderr);
});
