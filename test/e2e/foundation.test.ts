// The gateway process end to end against controllable upstreams: SIGHUP reload, the config file watch and SIGTERM
// drain. What needs no process of its own (streaming, header hygiene, errors, limits, metrics, access log) is
// tested in-process in test/pipeline/proxying.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startPromgate, type PromgateProc } from './harness/promgate.js';
import { makeTempDir } from './harness/cleanup.js';
import { waitFor } from '../helpers/wait.js';

let echo: Stub;
let slow: Stub;
let pg: PromgateProc;
const tmp = makeTempDir('foundation');
const configFile = `${tmp.path}/promgate.yaml`;
/** Ends the held `drain` answer (it also ends by itself after 4 s, inside the 5 s shutdownTimeout). */
let endDrain: (() => void) | undefined;

function config(namespace: string): string {
  return `
server:
  host: 127.0.0.1
  port: {{PORT}}
  shutdownTimeout: 5s
routes:
  - name: echo
    prefix: /
    upstream: { url: "${echo.url}/base/path", headersTimeout: 2s }
  - name: slow
    prefix: /slow
    upstream: { url: "${slow.url}", headersTimeout: 600ms, bodyTimeout: 5s }
auth:
  anonymous: true
tenants:
  rules:
    - labels: { namespace: ${namespace} }
`;
}

before(async () => {
  echo = await startStub(echoJson);
  slow = await startStub((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"status":"success","data":[');
    const end = () => void (res.writableEnded || res.end('1]}'));
    setTimeout(end, 4000);
    endDrain = end;
  });
  pg = await startPromgate({ configYaml: config('team-a'), configPath: configFile });
});

after(async () => {
  await pg?.stop();
  await echo?.close();
  await slow?.close();
  tmp.remove();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(`${pg.url}${path}`, { headers });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** The query the echo upstream received last, after sending one more. */
async function forwardedQuery(): Promise<string> {
  await get('/api/v1/query?query=up');
  // Readiness probes of the upstream land here too; they are not what a client sent.
  const last = echo.received.filter((r) => !r.url.endsWith('/-/ready')).at(-1)!;
  return new URL(last.url, 'http://x').searchParams.get('query') ?? '';
}

const logged = (msg: string) => () => pg.logLines().some((l) => l.msg === msg);

test('SIGHUP reloads the config; a bad config is refused and the old one keeps serving', async () => {
  writeFileSync(configFile, config('team-b').replace('{{PORT}}', String(pg.port)));
  pg.proc.kill('SIGHUP');
  let q = '';
  await waitFor(async () => (q = await forwardedQuery()).includes('team-b'), {
    what: 'team-b after SIGHUP',
    timeoutMs: 10_000,
    intervalMs: 50,
    procs: [pg.proc],
  });
  assert.equal(q, 'up{namespace="team-b"}');
  writeFileSync(configFile, 'routes: [oops\n');
  pg.proc.kill('SIGHUP');
  const refused = 'configuration reload refused; the previous configuration keeps serving';
  await waitFor(logged(refused), { what: 'the refused reload', timeoutMs: 10_000, intervalMs: 20, procs: [pg.proc] });
  assert.equal(await forwardedQuery(), 'up{namespace="team-b"}');
  assert.ok(pg.logLines().some((l) => l.msg === refused));
  const m = (await get('/metrics')).text;
  // The file watch may reload the same change before SIGHUP does, so each counter is at least 1.
  assert.match(m, /promgate_config_reloads_total\{source="config",result="failure"\} [1-9]/);
  assert.match(m, /promgate_config_reloads_total\{source="config",result="success"\} [1-9]/);
});

test('a saved config change is picked up without a signal (the tenant policy lives in the config)', async () => {
  writeFileSync(configFile, config('team-c').replace('{{PORT}}', String(pg.port)));
  let q = '';
  await waitFor(async () => (q = await forwardedQuery()).includes('team-c'), {
    what: 'team-c from the file watch',
    timeoutMs: 10_000,
    intervalMs: 50,
    procs: [pg.proc],
  });
  assert.equal(q, 'up{namespace="team-c"}');
});

test('SIGTERM drains in-flight requests, refuses new connections, and exits 0', async () => {
  const inflight = request(`${pg.url}/slow/api/v1/query?query=drain`).then(async (r) => ({
    status: r.statusCode,
    text: await r.body.text(),
  }));
  await waitFor(() => slow.received.some((r) => r.url.includes('drain')), {
    what: 'the drain request upstream',
    timeoutMs: 10_000,
    intervalMs: 10,
  });
  pg.proc.kill('SIGTERM');
  await waitFor(logged('shutting down: no new connections, draining in-flight requests'), {
    what: 'the drain to start',
    timeoutMs: 10_000,
    intervalMs: 10,
  });
  await assert.rejects(request(`${pg.url}/-/healthy`, { reset: true }), 'new connections are refused while draining');
  endDrain?.();
  const done = await inflight;
  assert.equal(done.status, 200);
  assert.equal(done.text, '{"status":"success","data":[1]}');
  const exit = await pg.waitExit();
  assert.equal(exit.code, 0);
  assert.ok(pg.logLines().some((l) => l.msg === 'stopped'));
});
