// The gateway in-process against controllable upstreams: streaming, header hygiene, error mapping, limits, health,
// metrics and access logs. Signals, reloads by file and drain need the real process: test/e2e/foundation.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { request as httpRequest } from 'node:http';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';
import { freePort } from '../e2e/harness/ports.js';
import { waitFor } from '../helpers/wait.js';

let echo: Stub;
let slow: Stub;
let pg: InProcessGateway;
let closedPort: number;
/** Ends the held `stream` answer at once instead of after its 800 ms. */
let endStream: (() => void) | undefined;

const config = (): string => `
server:
  maxBodyBytes: 1024
  shutdownTimeout: 5s
  readyCheckInterval: 200ms
routes:
  - name: echo
    prefix: /
    upstream: { url: "${echo.url}/base/path", headersTimeout: 2s }
  - name: slow
    prefix: /slow
    upstream: { url: "${slow.url}", headersTimeout: 600ms, bodyTimeout: 5s }
  - name: down
    prefix: /down
    upstream: { url: "http://127.0.0.1:${closedPort}" }
auth:
  anonymous: true
tenants:
  rules:
    - labels: { namespace: team-a }
`;

before(async () => {
  echo = await startStub((req, res, body) => {
    if (req.url?.includes('gzipped')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync('{"status":"success","data":"zipped"}'));
    } else echoJson(req, res, body);
  });
  slow = await startStub((req, res) => {
    const u = req.url ?? '';
    if (u.includes('never')) return; // never answers: headers timeout
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"status":"success","data":[');
    if (u.includes('reset')) setTimeout(() => res.socket?.destroy(), 50);
    else if (u.includes('hold'))
      return; // holds the body open until the client goes away
    else if (u.includes('stream'))
      endStream = () => void (res.writableEnded || res.end('1]}')); // the rest waits for the test
    else {
      const end = () => void (res.writableEnded || res.end('1]}'));
      setTimeout(end, 800);
      endStream = end;
    }
  });
  closedPort = await freePort();
  pg = await startInProcess({ yaml: config() });
});

after(async () => {
  await pg?.close();
  await echo?.close();
  await slow?.close();
});

/** What the echo upstream received from clients: the readiness and build-info probes (every 200 ms) left out. */
const forwarded = () =>
  echo.received.filter((r) => !r.url.endsWith('/-/ready') && !r.url.endsWith('/api/v1/status/buildinfo'));

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(`${pg.url}${path}`, { headers });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

test('queries are rewritten and forwarded under the upstream path prefix', async () => {
  const r = await get('/api/v1/query?query=up&time=1');
  assert.equal(r.status, 200);
  const last = forwarded().at(-1)!;
  const u = new URL(last.url, 'http://x');
  assert.equal(u.pathname, '/base/path/api/v1/query');
  assert.equal(u.searchParams.get('query'), 'up{namespace="team-a"}');
  assert.equal(u.searchParams.get('time'), '1');
});

/** node:http, because undici refuses to send hop-by-hop headers at all. */
function rawGet(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(`${pg.url}${path}`, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });
}

test('hop-by-hop and client identity headers are stripped; X-Forwarded-* and X-Request-Id are set', async () => {
  await rawGet('/api/v1/query?query=up', {
    connection: 'X-Hop',
    'x-hop': 'secret',
    'keep-alive': 'timeout=5',
    'x-forwarded-user': 'admin',
    'x-scope-orgid': 'other',
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-host': 'evil',
    'x-keep': 'kept',
  });
  const h = forwarded().at(-1)!.headers;
  assert.equal(h['x-hop'], undefined);
  assert.equal(h['keep-alive'], undefined);
  assert.equal(h['x-forwarded-user'], undefined);
  assert.equal(h['x-scope-orgid'], undefined);
  assert.equal(h['x-keep'], 'kept');
  assert.equal(h['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot prepend X-Forwarded-For');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-host'], `127.0.0.1:${pg.port}`);
  assert.match(String(h['x-request-id']), /^[0-9a-f]{8}-[0-9a-z]+$/);
});

test('Content-Encoding passes through untouched', async () => {
  const r = await request(`${pg.url}/api/v1/query?query=gzipped`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(r.headers['content-encoding'], 'gzip');
  const raw = Buffer.from(await r.body.arrayBuffer());
  assert.deepEqual(raw, gzipSync('{"status":"success","data":"zipped"}'));
});

// The upstream sends the rest only once the client holds the first chunk, so a gateway that buffered the
// answer would never deliver it (the test's timeout is only there to turn such a hang into a failure).
test('the response streams: the first bytes arrive before the upstream finishes', { timeout: 60_000 }, async () => {
  endStream = undefined;
  const r = await request(`${pg.url}/slow/api/v1/query?query=stream`);
  const it = r.body[Symbol.asyncIterator]();
  const first = await it.next();
  assert.match(String(first.value), /^\{"status":"success"/);
  const release = endStream as (() => void) | undefined;
  assert.ok(release, 'the upstream is still holding the rest of its answer');
  release();
  let rest = '';
  for (let c = await it.next(); !c.done; c = await it.next()) rest += String(c.value);
  assert.equal(rest, '1]}');
});

test('a client abort cancels the upstream request', async () => {
  const before = slow.aborted;
  const ac = new AbortController();
  const r = await request(`${pg.url}/slow/api/v1/query?query=hold`, { signal: ac.signal });
  assert.equal(r.statusCode, 200);
  ac.abort();
  await waitFor(() => slow.aborted !== before, {
    what: 'the upstream connection to close',
    timeoutMs: 2500,
    intervalMs: 20,
  });
  assert.equal(slow.aborted, before + 1, 'upstream saw its connection closed');
});

test('unreachable upstream → 502 unavailable naming the upstream', async () => {
  const r = await get('/down/api/v1/query?query=up');
  assert.equal(r.status, 502);
  const j = r.json();
  assert.equal(j.status, 'error');
  assert.equal(j.errorType, 'unavailable');
  assert.equal(j.code, 'PG_UPSTREAM_UNAVAILABLE');
  assert.match(String(j.error), /down/);
});

test('upstream timeout → 504 timeout', async () => {
  const r = await get('/slow/api/v1/query?query=never');
  assert.equal(r.status, 504);
  assert.equal(r.json().code, 'PG_UPSTREAM_TIMEOUT');
  assert.equal(r.json().errorType, 'timeout');
});

test('a reset mid-stream closes the client connection (never a clean truncated body)', async () => {
  const r = await request(`${pg.url}/slow/api/v1/query?query=reset`);
  assert.equal(r.statusCode, 200);
  await assert.rejects(r.body.text());
});

test('request body over the limit → 413', async () => {
  const r = await request(`${pg.url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'query=' + 'x'.repeat(2000),
  });
  assert.equal(r.statusCode, 413);
  assert.equal(((await r.body.json()) as { code: string }).code, 'PG_BODY_TOO_LARGE');
});

test('request headers over the limit → 431 JSON, and the server keeps serving', async () => {
  const r = await request(`${pg.url}/api/v1/query?query=up`, { headers: { 'x-big': 'y'.repeat(20000) } }).catch(
    (e: Error) => e,
  );
  if (!(r instanceof Error)) {
    assert.equal(r.statusCode, 431);
    assert.equal(((await r.body.json()) as { code: string }).code, 'PG_HEADERS_TOO_LARGE');
  }
  assert.equal((await get('/-/healthy')).status, 200);
});

test('a form body that is not urlencoded is refused, never forwarded', async () => {
  const n = forwarded().length;
  const r = await request(`${pg.url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x\r\n',
  });
  assert.equal(r.statusCode, 415);
  assert.equal(((await r.body.json()) as { errorType: string }).errorType, 'bad_data');
  assert.equal(forwarded().length, n);
});

test('errors on non-API paths are a plain page; unknown API paths are 404 JSON', async () => {
  const page = await get('/classic/targets');
  assert.equal(page.status, 404);
  assert.match(String(page.headers['content-type']), /^text\/plain/);
  const api = await get('/api/v1/nope');
  assert.equal(api.status, 404);
  assert.equal(api.json().errorType, 'not_found');
});

test('/-/healthy is 200; /-/ready is 503 and names the unreachable upstream', async () => {
  assert.equal((await get('/-/healthy')).status, 200);
  const r = await get('/-/ready');
  assert.equal(r.status, 503);
  assert.match(r.text, /upstream down \(http:\/\/127\.0\.0\.1:\d+\): NOT reachable/);
  assert.match(r.text, /upstream echo .*: reachable/);
});

test('/metrics exposes requests, latency, upstream errors and process metrics, and on the main port names no tenant', async () => {
  await get('/down/api/v1/query?query=up');
  const m = (await get('/metrics')).text;
  assert.match(m, /promgate_requests_total\{route="echo",method="GET",code="200"\} \d+/);
  // Anyone may read /metrics on the main port: it must not list the tenants (or their selectors).
  assert.doesNotMatch(m, /tenant=|team-a/);
  assert.match(m, /promgate_request_duration_seconds_bucket\{le="0.005",route="echo"\} \d+/);
  assert.match(m, /promgate_upstream_errors_total\{route="down",reason="unavailable"\} [1-9]/);
  assert.match(m, /promgate_upstream_up\{route="down"\} 0/);
  assert.match(m, /process_resident_memory_bytes \d+/);
});

test('one access log line per request, with the rewritten query', async () => {
  await get('/api/v1/query?query=rate(x%5B5m%5D)', { 'x-request-id': 'log-check-1' });
  // The line is written when the server side of the response closes, which may be just after the client has read it.
  const line = await waitFor(() => pg.logs.find((l) => l.reqId === 'log-check-1'), {
    what: 'the access line',
    timeoutMs: 3000,
    intervalMs: 10,
  });
  assert.ok(line, 'access line present');
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/api/v1/query');
  assert.equal(line.status, 200);
  assert.equal(line.route, 'echo');
  assert.equal(line.user, 'anonymous');
  assert.equal(line.tenant, '{namespace="team-a"}');
  assert.equal(line.query, 'rate(x{namespace="team-a"}[5m])');
  assert.equal(typeof line.durationMs, 'number');
});
