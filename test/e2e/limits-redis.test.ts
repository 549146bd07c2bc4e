// One rate limit shared by two promgate processes through one real redis-server; Redis stopped mid-run, then back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import {
  makeTempDir,
  promgateBuilt,
  readAnswer,
  startPromgate,
  waitFor,
  type PromgateInstance,
} from './harness/index.js';
import { startRedis, type RedisInstance } from './harness/redis.js';
import { startStub, echoJson, type Stub } from './upstream-stub.js';

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('limits-redis');
let redis: RedisInstance;
let up: Stub;
let a: PromgateInstance;
let b: PromgateInstance;
let redisPort = 0;

before(async () => {
  if (skip) return;
  [redis, up] = await Promise.all([startRedis(), startStub(echoJson)]);
  redisPort = redis.port;
  writeFileSync(tmp.file('users.yaml'), 'users:\n  - {username: alice, password: alice-pw, namespace: team-a}\n');
  const yaml = `
server: { host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 1h, metricsTenantLabel: true }
routes:
  - name: open
    prefix: /open
    upstream: { url: "${up.url}" }
  - name: closed
    prefix: /closed
    upstream: { url: "${up.url}" }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))}, allowPlaintext: true }
limits:
  redis: { url: "${redis.url}", keyPrefix: "pg-test:" }
  routes:
    open:
      rate: { rate: 0.001, burst: 4, failOpen: true }
    closed:
      rate: { rate: 0.001, burst: 4, failOpen: false }
`;
  [a, b] = await Promise.all([startPromgate({ configYaml: yaml }), startPromgate({ configYaml: yaml })]);
  await Promise.all([connected(a), connected(b)]);
});

after(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await redis?.stop();
  await up?.close();
  tmp.remove();
});

const AUTH = { authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` };

async function ask(
  pg: PromgateInstance,
  route: string,
): Promise<{ status: number; code?: string; retryAfter?: string }> {
  const r = await readAnswer(await request(`${pg.url}/${route}/api/v1/query?query=up`, { headers: AUTH }));
  return {
    status: r.status,
    code: (r.json as { code?: string } | undefined)?.code,
    retryAfter: r.headers['retry-after'] as string | undefined,
  };
}

/** /-/ready reports the store's connection (it never fails readiness over it). */
async function readyText(pg: PromgateInstance): Promise<string> {
  return (await request(`${pg.url}/-/ready`)).body.text();
}
const connected = (pg: PromgateInstance) =>
  waitFor(async () => /rate-limit store redis:\/\/[^:]+:\d+: connected/.test(await readyText(pg)), {
    what: 'the rate-limit store connected',
    procs: [pg.proc],
  });

async function metric(pg: PromgateInstance, name: string, labels: string): Promise<number> {
  const text = await (await request(`${pg.url}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Alternates between the two processes: one bucket of 4 for both, so the fifth request is refused wherever it lands. */
async function sharedBurst(route: string): Promise<void> {
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) seen.push((await ask(i % 2 === 0 ? a : b, route)).status);
  assert.deepEqual(seen, [200, 200, 200, 200]);
  for (const pg of [a, b]) {
    const r = await ask(pg, route);
    assert.equal(r.status, 429, `${route} through ${pg.url}`);
    assert.equal(r.code, 'PG_RATE_LIMITED');
    assert.ok(Number(r.retryAfter) >= 1);
  }
}

test('two replicas hold one limit: four requests spread over both, the fifth refused by either', { skip }, async () => {
  await sharedBurst('open');
  assert.match(await redis.command('KEYS pg-test:*'), /^\*1$/, 'one bucket key, in Redis');
});

test(
  'Redis stopped: failOpen routes admit (logged, counted), fail-closed routes answer 503; both recover when it returns',
  { skip },
  async () => {
    await redis.stop();
    await waitFor(async () => /rate-limit store .*NOT connected/.test(await readyText(a)), {
      what: 'the store seen down',
      procs: [a.proc],
    });
    // The open route's bucket is spent (previous test), yet with the store gone it admits.
    assert.equal((await ask(a, 'open')).status, 200);
    const closed = await ask(a, 'closed');
    assert.equal(closed.status, 503);
    assert.equal(closed.code, 'PG_RATE_LIMIT_UNAVAILABLE');
    assert.equal(closed.retryAfter, '1');
    assert.equal(await metric(a, 'promgate_limit_store_failures_total', 'route="open",outcome="admitted"'), 1);
    assert.equal(await metric(a, 'promgate_limit_store_failures_total', 'route="closed",outcome="refused"'), 1);
    // The log line is written asynchronously: wait for it (bounded) rather than expect it with the answer.
    await waitFor(
      () => a.logLines().some((l) => l.route === 'open' && /shared store cannot be reached/.test(String(l.msg))),
      { what: 'the outage is logged', procs: [a.proc] },
    );

    // Same port, empty Redis (no persistence): both processes reconnect by themselves, no restart.
    redis = await startRedis(redisPort);
    await Promise.all([connected(a), connected(b)]);
    await sharedBurst('closed');
    await waitFor(() => a.logLines().some((l) => /answers again/.test(String(l.msg))), {
      what: 'the recovery is logged',
      procs: [a.proc],
    });
  },
);
