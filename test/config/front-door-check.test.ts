// `promgate check` on the front-door keys: every problem of one file listed at once with file, line and key, and
// examples/multi-cluster.yaml accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PROMGATE_ENTRY, REPO_ROOT } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';

function check(file: string) {
  const r = spawnSync(process.execPath, [PROMGATE_ENTRY, 'check', '--config', file], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, AWS_REGION: '', AWS_DEFAULT_REGION: '' },
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const ALL_AT_ONCE = `server: {host: 127.0.0.1, port: 0}
auth: {anonymous: true}
routes:
  - prefix: /clusters/east/prometheus
    upstream: {url: "http://127.0.0.1:1"}
  - prefix: /clusters/east/prometheus/
    upstream: {url: "http://127.0.0.1:2"}
  - prefix: /nothing-behind
  - prefix: /moved
    upstream: {url: "http://127.0.0.1:3"}
    rewrite: {regex: "^/(old", replacement: /new}
  - prefix: /ks
    upstream: {url: "http://127.0.0.1:4", type: http}
    headers:
      request:
        set:
          Authorization: 'Bearer {{ cookie "kubesphere-token" | base64 }}'
          X-Who: '{{ whoami }}'
  - prefix: /
    stripPrefix: true
    upstream: {url: "http://127.0.0.1:5"}
`;

test('check lists every front-door problem of a file at once, each with its file, line and key', () => {
  const dir = makeTempDir('front-door-check');
  try {
    const file = dir.file('bad.yaml');
    writeFileSync(file, ALL_AT_ONCE);
    const r = check(file);
    assert.notEqual(r.code, 0, 'check accepted it');
    const lines = [...r.err.matchAll(/bad\.yaml:(\d+): (\S+): (.*)/g)].map((m) => ({
      line: Number(m[1]),
      key: m[2]!,
      message: m[3]!,
    }));
    const at = (key: string) => lines.find((l) => l.key === key);
    const want: [string, number, RegExp][] = [
      ['routes[1].prefix', 6, /already used by routes\[0\]/],
      ['routes[2].upstream', 8, /expected object/],
      ['routes[3].rewrite.regex', 12, /missing closing \)/],
      ['routes[4].headers.request.set.Authorization', 18, /unknown filter "base64"/],
      ['routes[4].headers.request.set.X-Who', 19, /unknown variable \{\{ whoami \}\}/],
      ['routes[5].stripPrefix', 21, /nothing to strip/],
    ];
    for (const [key, line, message] of want) {
      const l = at(key);
      assert.ok(l, `${key} is not named:\n${r.err}`);
      assert.match(l.message, message, key);
      // The line is where the key (or, for a missing key, its map) is written.
      assert.ok(Math.abs(l.line - line) <= 1, `${key} at line ${l.line}, expected about ${line}`);
    }
  } finally {
    dir.remove();
  }
});

test('examples/multi-cluster.yaml passes check', () => {
  const r = check('examples/multi-cluster.yaml');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /OK/);
});
