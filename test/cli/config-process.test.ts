// `promgate run` checks its config in a child process (src/cli/config-process.ts): the same config or the same
// refusal as loading in-process, and a child that cannot be started falls back to loading in-process, with a notice.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfigInChild } from '../../src/cli/config-process.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadCheckedConfig } from '../../src/wiring/load.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';

const GOOD = `server: {host: 127.0.0.1, port: 9092}
routes:
  - {name: east, prefix: /clusters/east, upstream: {url: "http://127.0.0.1:9090", headersTimeout: 30s}}
auth: {anonymous: true}
tenants: {rules: [{match: {users: [anonymous]}, labels: {namespace: ["team-a", "team-b"]}}]}
`;
const BAD = `server: {host: 127.0.0.1, port: 9092}
routes:
  - {prefix: /a, upstream: {url: "prometheus:9090"}}
  - {prefix: /a, upstream: {url: "http://127.0.0.1:9090"}}
tenants: {rules: [{match: {users: [x]}, labels: {namespace: "{{ nosuch }}"}}]}
`;

test('the child returns the config loading in-process gives, frozen; and the same refusal, every key', async () => {
  const dir = makeTempDir('config-process');
  try {
    const good = dir.file('good.yaml');
    writeFileSync(good, GOOD);
    const opts = { file: good, env: {}, overrides: { server: { logLevel: 'warn' } } };
    const viaChild = await loadConfigInChild(opts, { warn: (l) => assert.fail(`no fallback expected: ${l}`) });
    assert.deepEqual(viaChild, loadCheckedConfig(opts));
    assert.ok(Object.isFrozen(viaChild) && Object.isFrozen(viaChild.routes[0]!.upstream), 'frozen all the way down');
    assert.equal(viaChild.server.logLevel, 'warn', 'overrides applied');
    assert.equal(viaChild.routes[0]!.upstream.headersTimeout, 30_000, 'durations arrive as milliseconds');

    const bad = dir.file('bad.yaml');
    writeFileSync(bad, BAD);
    const inProcess = (() => {
      try {
        loadCheckedConfig({ file: bad, env: {} });
      } catch (e) {
        return e as ConfigError;
      }
      return assert.fail('the bad config loaded in-process');
    })();
    assert.ok(inProcess.keys.length >= 2, inProcess.message);
    await assert.rejects(loadConfigInChild({ file: bad, env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, 'PG_CONFIG_INVALID');
      assert.deepEqual(e.problems, inProcess.problems);
      assert.deepEqual(e.keys, inProcess.keys);
      return true;
    });
  } finally {
    dir.remove();
  }
});

test('a child that cannot be started: one notice, the config is loaded in-process, and nothing is left unhandled', async () => {
  const dir = makeTempDir('config-process');
  try {
    const good = dir.file('good.yaml');
    writeFileSync(good, GOOD);
    // A "node" that cannot be executed (no execute bit): spawn fails with EACCES, then the send fails with EPIPE.
    const notNode = dir.file('node');
    writeFileSync(notNode, '', { mode: 0o644 });
    const notices: string[] = [];
    const cfg = await loadConfigInChild({ file: good, env: {} }, { execPath: notNode, warn: (l) => notices.push(l) });
    assert.deepEqual(cfg, loadCheckedConfig({ file: good, env: {} }));
    assert.equal(notices.length, 1, notices.join('\n'));
    assert.match(notices[0]!, /config child process could not run \(spawn .*EACCES\)/);
    // The same with a refused config: the in-process refusal, not a crash.
    const bad = dir.file('bad.yaml');
    writeFileSync(bad, BAD);
    await assert.rejects(
      loadConfigInChild({ file: bad, env: {} }, { execPath: notNode, warn: () => undefined }),
      ConfigError,
    );
    // Let any late 'error' event of the dead child surface before the test ends (it would fail the file).
    await new Promise((r) => setImmediate(r));
  } finally {
    dir.remove();
  }
});
