// The circuit breaker against a real Prometheus that is killed and restarted, through a TCP relay that counts connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import {
  makeTempDir,
  promgateBuilt,
  readAnswer,
  startPrometheus,
  startPromgate,
  startStack,
  waitFor,
  type PrometheusInstance,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('breaker');
let stack: Stack;
let prom2: PrometheusInstance | undefined;
let pg: PromgateInstance;

/**
 * promgate's upstream: a relay to whichever Prometheus is current. Every connection promgate opens is counted,
 * so "no connection attempt while open" is a count, not a timing. With Prometheus gone, the relay closes the
 * connections it accepts, which promgate sees as a failed upstream call.
 */
const relay = {
  target: 0,
  connections: 0,
  server: undefined as unknown as Server,
  port: 0,
  sockets: new Set<Socket>(),
};

before(async () => {
  if (skip) return;
  stack = await startStack();
  relay.target = stack.prom.port;
  relay.server = createServer((client) => {
    relay.connections++;
    relay.sockets.add(client);
    const upstream = connect({ host: '127.0.0.1', port: relay.target });
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      relay.sockets.delete(client);
    };
    upstream.on('error', drop).on('close', drop);
    client.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => relay.server.listen(0, '127.0.0.1', () => r()));
  relay.port = (relay.server.address() as AddressInfo).port;
  writeFileSync(tmp.file('users.yaml'), 'users:\n  - {username: alice, password: alice-pw, namespace: team-a}\n');
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 1h, metricsTenantLabel: true }
routes:
  - name: prom
    upstream:
      url: "http://127.0.0.1:${relay.port}"
      connectTimeout: 10m
      breaker: { failures: 3, coolDown: 4s }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))}, allowPlaintext: true }
`,
  });
});

after(async () => {
  await pg?.stop();
  await prom2?.stop();
  await stack?.stop();
  for (const s of relay.sockets) s.destroy();
  relay.server?.close();
  tmp.remove();
});

const AUTH = { authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` };
let n = 0;
async function ask(): Promise<{ status: number; code?: string; retryAfter?: string }> {
  // Each query differs, so no two calls are ever coalesced into one upstream call.
  const r = await readAnswer(
    await request(`${pg.url}/api/v1/query?query=${encodeURIComponent(`up + ${n++}`)}`, { headers: AUTH }),
  );
  return {
    status: r.status,
    code: (r.json as { code?: string } | undefined)?.code,
    retryAfter: r.headers['retry-after'] as string | undefined,
  };
}
const ready = async () => (await request(`${pg.url}/-/ready`)).body.text();
async function circuitMetric(): Promise<number | undefined> {
  const text = await (await request(`${pg.url}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith('promgate_circuit_state{'));
  return line ? Number(line.split(' ').pop()) : undefined;
}

test(
  'Prometheus killed: the circuit opens at the third failure, then fails fast without a single connection; restarted: half-open, closed',
  { skip },
  async () => {
    assert.equal((await ask()).status, 200);
    assert.equal(await circuitMetric(), 0);
    assert.match(await ready(), /circuit http:\/\/127\.0\.0\.1:\d+: closed/);

    await stack.prom.stop();
    const failures = [await ask(), await ask(), await ask()];
    for (const f of failures) assert.equal(f.status, 502, JSON.stringify(f));
    const opened = await ask();
    assert.equal(opened.status, 503);
    assert.equal(opened.code, 'PG_CIRCUIT_OPEN');

    // Open: every call answered at once. The relay counts connections: none is even attempted, so no call can be
    // waiting out the 10-minute connect timeout configured above.
    const before = relay.connections;
    for (let i = 0; i < 10; i++) {
      const r = await ask();
      assert.equal(r.status, 503);
      assert.equal(r.code, 'PG_CIRCUIT_OPEN');
      assert.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 4, r.retryAfter);
    }
    assert.equal(relay.connections, before, 'no upstream connection while the circuit is open');
    assert.equal(await circuitMetric(), 1);
    const r = await request(`${pg.url}/-/ready`);
    assert.equal(r.statusCode, 503);
    assert.match(await r.body.text(), /circuit http:\/\/127\.0\.0\.1:\d+: open/);

    // A new Prometheus behind the relay; once the cool-down is over the circuit waits for its probe.
    prom2 = await startPrometheus({ expo: stack.expo, waitForData: false });
    relay.target = prom2.port;
    await waitFor(async () => /circuit [^\n]*: half-open/.test(await ready()), {
      what: 'half-open after the cool-down',
      procs: [pg.proc],
    });
    assert.equal(await circuitMetric(), 2);
    assert.equal((await ask()).status, 200, 'the probe goes through');
    assert.match(await ready(), /circuit [^\n]*: closed/);
    assert.equal(await circuitMetric(), 0);
    assert.equal((await ask()).status, 200);
    const text = await (await request(`${pg.url}/metrics`)).body.text();
    assert.match(
      text,
      /promgate_limit_rejections_total\{route="prom",tenant="\{namespace=\\"team-a\\"\}",limit="circuit"\} 11/,
    );
  },
);
