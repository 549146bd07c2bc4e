// The programmatic API (src/index.ts): start from a config object, enforce, reload, refuse a bad config, close; the error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import {
  CODES,
  ConfigError,
  GatewayError,
  loadConfig,
  startGateway,
  validateConfig,
  type ConfigInput,
} from '../../src/index.js';

/** A stand-in Prometheus that answers every query with the query it received. */
async function echoUpstream(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [], query: u.searchParams.get('query'), path: u.pathname },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, server };
}

const config = (upstream: string, ns: string): ConfigInput => ({
  server: { host: '127.0.0.1', port: 0, logLevel: 'silent', shutdownTimeout: '1s' },
  routes: [{ name: 'prom', prefix: '/', upstream: { url: upstream } }],
  auth: { anonymous: true },
  tenants: { rules: [{ match: { users: ['anonymous'] }, labels: { namespace: ns } }] },
});

test('startGateway serves a config object, reload swaps it, a bad reload is refused, close stops listening', async () => {
  const up = await echoUpstream();
  const gw = await startGateway({ config: config(up.url, 'team-a') });
  try {
    assert.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(gw.url, `http://127.0.0.1:${gw.port}`);
    const ask = async () => {
      const r = await request(`${gw.url}/api/v1/query?query=up`);
      assert.equal(r.statusCode, 200);
      return ((await r.body.json()) as { data: { query: string } }).data.query;
    };
    assert.equal(await ask(), 'up{namespace="team-a"}');

    await gw.reload(config(up.url, 'team-b'));
    assert.equal(await ask(), 'up{namespace="team-b"}');

    const bad = { ...config(up.url, 'team-c'), server: { port: 'nine' } } as unknown as ConfigInput;
    await assert.rejects(
      gw.reload(bad),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('server.port')),
    );
    assert.equal(await ask(), 'up{namespace="team-b"}', 'the previous config keeps serving');

    // reload() without an argument re-reads the same config.
    await gw.reload();
    assert.equal(await ask(), 'up{namespace="team-b"}');
  } finally {
    await gw.close();
    up.server.close();
  }
  await assert.rejects(request(`${gw.url}/-/healthy`), 'nothing listens after close()');
});

test('startGateway rejects a config with problems before listening', async () => {
  await assert.rejects(
    startGateway({ config: { routes: [{ upstream: { url: 'not a url' } }] } }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.includes('routes[0].upstream.url')),
  );
});

test('validateConfig fills defaults and names every problem; loadConfig reads env overrides', () => {
  const c = validateConfig({ ...config('http://127.0.0.1:9090', 'team-a'), server: {} });
  assert.equal(c.server.port, 9092);
  assert.equal(c.server.shutdownTimeout, 30_000);
  assert.ok(Object.isFrozen(c));
  try {
    validateConfig({ server: { prot: 1 } } as unknown as ConfigInput);
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.match(e.problems.join('\n'), /unknown key "prot" \(did you mean "port"\?\)/);
  }
  const fromEnv = loadConfig({
    env: { PROMGATE_SERVER__PORT: '9200' },
    overrides: { ...config('http://127.0.0.1:9090', 'team-a'), server: {} } as Record<string, unknown>,
  });
  assert.equal(fromEnv.server.port, 9200);
});

test('error codes: the exported table matches what the gateway answers', async () => {
  assert.equal(new GatewayError('PG_TENANT_NONE', 'x').status, CODES.PG_TENANT_NONE.status);
  const tmp = makeTempDir('api');
  writeFileSync(tmp.file('users.yaml'), 'users: []\n');
  const up = await echoUpstream();
  // Basic auth only: a call without credentials is refused as unauthenticated.
  const gw = await startGateway({
    config: { ...config(up.url, 'team-a'), auth: { basic: { usersFile: tmp.file('users.yaml') } } },
  });
  try {
    const r = await request(`${gw.url}/api/v1/query?query=up`);
    const body = (await r.body.json()) as { code: string; status: string };
    assert.equal(r.statusCode, CODES.PG_AUTHN_REQUIRED.status);
    assert.equal(body.code, 'PG_AUTHN_REQUIRED' satisfies keyof typeof CODES);
  } finally {
    await gw.close();
    up.server.close();
    tmp.remove();
  }
});
