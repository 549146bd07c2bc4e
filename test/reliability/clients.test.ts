// Issue 15.3: clients that read slowly, leave, trickle their request heads, or send too much each get what an
// operator expects: backpressure, a cancelled upstream call, a cut connection, or a coded 4xx in Prometheus JSON.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { MiB, rawExchange, strictRequest } from './helpers.js';

const BIG = 256 * MiB;
let echo: Stub;
let big: Stub;
let pg: InProcessGateway;
/** The big answer's progress: bytes handed to the socket, and whether the last write is waiting for 'drain'. */
const stream = { sent: 0, blocked: false, done: false, res: undefined as ServerResponse | undefined };

before(async () => {
  echo = await startStub(echoJson);
  big = await startStub((req, res) => {
    if (req.url?.includes('/api/v1/rules')) return; // holds a filtered call open until the gateway gives up
    if (!req.url?.includes('/api/v1/query')) return void res.end('{}'); // readiness and build-info probes
    const chunk = Buffer.alloc(256 * 1024, '1');
    Object.assign(stream, { sent: 0, blocked: false, done: false, res });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(BIG) });
    const pump = () => {
      stream.blocked = false;
      while (stream.sent < BIG && !res.destroyed) {
        stream.sent += chunk.length;
        if (!res.write(chunk)) {
          stream.blocked = true;
          return void res.once('drain', pump);
        }
      }
      stream.done = true;
      res.end();
    };
    pump();
  });
  pg = await startInProcess({
    yaml: `
server:
  readyCheckInterval: 1h
  maxHeaderBytes: 8192
  maxBodyBytes: 4KiB
  maxMatchSelectors: 20
  headersTimeout: 400ms
routes:
  - name: big
    prefix: /big
    upstream: { url: "${big.url}" }
  - name: echo
    prefix: /
    upstream: { url: "${echo.url}" }
auth:
  anonymous: true
tenants:
  rules:
    - labels: { namespace: team-a }
`,
  });
});

after(async () => {
  await pg?.close();
  await echo?.close();
  await big?.close();
});

async function assertServing(): Promise<void> {
  const r = await strictRequest(`${pg.url}/api/v1/query?query=up`);
  assert.equal(r.status, 200, r.body);
}

test('a slow reader of a large answer gets backpressure: the upstream is held back and memory stays flat', async () => {
  const rssBefore = process.memoryUsage().rss;
  const s = connect(pg.port, '127.0.0.1');
  let received = 0;
  const headEnd = new Promise<void>((resolve) => {
    s.once('data', (c: Buffer) => {
      received += c.length;
      // Read the head and a first piece, then stop reading: the socket's buffers fill up.
      s.pause();
      resolve();
    });
  });
  s.write('GET /big/api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await headEnd;
  await waitFor(() => stream.blocked, {
    what: 'the upstream to block on a full pipe',
    timeoutMs: 20_000,
    intervalMs: 20,
  });
  // Blocked after a few buffers' worth, not after the 256 MiB a buffering gateway would have taken in.
  assert.ok(stream.sent < 64 * MiB, `the upstream wrote ${stream.sent / MiB} MiB before being held back`);
  const grew = process.memoryUsage().rss - rssBefore;
  assert.ok(grew < 128 * MiB, `RSS grew by ${(grew / MiB).toFixed(0)} MiB while the reader was paused`);
  // The reader catches up: the whole answer arrives, byte for byte.
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  s.on('data', (c: Buffer) => (received += c.length));
  s.resume();
  await closed;
  assert.ok(stream.done);
  assert.ok(received > BIG, 'head and the whole body arrived');
  await assertServing();
});

test('a client that aborts a filtered request cancels the upstream call (seen by the upstream)', async () => {
  const before = big.aborted;
  const s = connect(pg.port, '127.0.0.1');
  s.write('GET /big/api/v1/rules HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => big.received.some((r) => r.url.includes('/api/v1/rules')), {
    what: 'the rules request upstream',
    timeoutMs: 5000,
    intervalMs: 10,
  });
  s.destroy();
  await waitFor(() => big.aborted > before, { what: 'the upstream request to close', timeoutMs: 5000, intervalMs: 10 });
  await assertServing();
});

/** Sends `head` (without its final blank line) and nothing more; resolves with what the gateway sent before closing. */
function stall(head: string, trickle = false): Promise<{ text: string; timer: NodeJS.Timeout | undefined }> {
  return new Promise((resolve) => {
    const s: Socket = connect(pg.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), timer });
    });
    s.write(head);
    // A slowloris keeps sending a header byte at a time so that no idle timeout ever fires.
    if (trickle) timer = setInterval(() => s.writable && s.write('a'), 50);
  });
}

test('a partial request head (slowloris) is cut off by server.headersTimeout with 408 JSON', async () => {
  const started = stall('GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n');
  // Others are served meanwhile.
  await assertServing();
  const { text } = await started;
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /"code":"PG_CLIENT_TIMEOUT"/);
  assert.match(text, /"status":"error","errorType":"timeout"/);
});

test('a trickling head (a byte at a time) is cut off all the same', async () => {
  const { text } = await stall('GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nX-Slow: ', true);
  assert.match(text, /^HTTP\/1\.1 408 /);
  await assertServing();
});

function errorOf(text: string): { status: number; body: Record<string, unknown> } {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1]);
  const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  return { status, body };
}

test('oversized request heads: 431 PG_HEADERS_TOO_LARGE in Prometheus JSON', async () => {
  const { bytes } = await rawExchange(
    pg.port,
    `GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\nConnection: close\r\n\r\n`,
  );
  const e = errorOf(bytes.toString('latin1'));
  assert.equal(e.status, 431);
  assert.equal(e.body.code, 'PG_HEADERS_TOO_LARGE');
  assert.equal(e.body.status, 'error');
  await assertServing();
});

test('an over-long query string: 414 PG_URI_TOO_LONG in Prometheus JSON', async () => {
  const { bytes } = await rawExchange(
    pg.port,
    `GET /api/v1/query?query=${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  const e = errorOf(bytes.toString('latin1'));
  assert.equal(e.status, 414);
  assert.equal(e.body.code, 'PG_URI_TOO_LONG');
  await assertServing();
});

test('oversized bodies: 413 PG_BODY_TOO_LARGE, announced or chunked', async () => {
  const form = 'query=' + 'x'.repeat(5000);
  const r = await strictRequest(`${pg.url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  assert.equal(r.status, 413);
  assert.equal((JSON.parse(r.body) as { code: string }).code, 'PG_BODY_TOO_LARGE');
  const chunked = await rawExchange(
    pg.port,
    `POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`,
  );
  const e = errorOf(chunked.bytes.toString('latin1'));
  assert.equal(e.status, 413);
  assert.equal(e.body.code, 'PG_BODY_TOO_LARGE');
  await assertServing();
});

test('too many match[] selectors (URL and form together): 400 PG_TOO_MANY_MATCHERS; at the limit: served', async () => {
  const sel = (n: number) => Array.from({ length: n }, (_, i) => `match[]=up${i}`).join('&');
  const over = await strictRequest(`${pg.url}/api/v1/series?${sel(21)}`);
  assert.equal(over.status, 400);
  assert.deepEqual(
    { ...(JSON.parse(over.body) as object), error: undefined },
    { status: 'error', errorType: 'bad_data', code: 'PG_TOO_MANY_MATCHERS', error: undefined },
  );
  const split = await strictRequest(`${pg.url}/api/v1/series?${sel(11)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: sel(10),
  });
  assert.equal(split.status, 400);
  assert.equal((JSON.parse(split.body) as { code: string }).code, 'PG_TOO_MANY_MATCHERS');
  const at = await strictRequest(`${pg.url}/api/v1/series?${sel(20)}`);
  assert.equal(at.status, 200, at.body);
});
