// Issue 15.1: every way an upstream can fail gives the client a coded error (or a visibly broken answer), never an
// answer that looks complete but is not, never an unfiltered body, and promgate keeps serving afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';
import { freePort } from '../e2e/harness/ports.js';
import { promgateBuilt, startPromgate } from '../e2e/harness/promgate.js';
import { waitFor } from '../helpers/wait.js';
import { MiB, rawExchange, rssOf, strictRequest } from './helpers.js';

/** Rules answer with one rule of the caller's tenant and one of another tenant. */
const RULES = JSON.stringify({
  status: 'success',
  data: {
    groups: [
      {
        name: 'g',
        file: 'f.yml',
        interval: 15,
        rules: [
          { name: 'mine', query: 'up', labels: { namespace: 'team-a' }, health: 'ok', type: 'recording' },
          { name: 'FOREIGN_SECRET', query: 'up', labels: { namespace: 'team-b' }, health: 'ok', type: 'recording' },
        ],
      },
    ],
  },
});

let good: Stub;
let faulty: Stub;
let pg: InProcessGateway;
let closedPort: number;

before(async () => {
  good = await startStub(echoJson);
  faulty = await startStub((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const mode = u.searchParams.get('mode') ?? u.pathname.split('/').pop() ?? '';
    const sock = res.socket as Socket;
    switch (mode) {
      case 'never':
        return; // accepts, reads the request, never answers
      case 'reset-chunked':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"status":"success","data":{"resultType":"vector","result":[');
        setImmediate(() => sock.resetAndDestroy());
        return;
      case 'reset-length':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"status":"success","data":{"resultType":"vector","result":[');
        setImmediate(() => sock.resetAndDestroy());
        return;
      case 'invalid':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"success","data":{"groups":[' + RULES.slice(40, 120));
        return;
      case 'truncated':
        // Declares the whole answer, sends half, and closes: the gateway must not filter (or pass) the half.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(RULES.length) });
        res.write(RULES.slice(0, RULES.length >> 1));
        setImmediate(() => sock.destroy());
        return;
      case 'declared-huge':
        // Announces more than the filtering limit: refused from the head alone.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(300 * 1024 * 1024) });
        res.write(RULES);
        return;
      case 'shape':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"success","data":{"groups":"FOREIGN_SECRET"}}');
        return;
      default: {
        // /api/v1/rules?enc=<coding>: the rules answer in that content coding, whatever was asked for.
        const enc = u.searchParams.get('enc');
        const encoded =
          enc === 'gzip'
            ? gzipSync(RULES)
            : enc === 'br'
              ? brotliCompressSync(RULES)
              : enc === 'deflate'
                ? deflateSync(RULES)
                : enc === 'gzip-garbage'
                  ? Buffer.from('\x1f\x8b\x08\x00garbage FOREIGN_SECRET')
                  : Buffer.from(RULES);
        const coding = enc === 'gzip-garbage' ? 'gzip' : (enc ?? undefined);
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(encoded.length),
          ...(coding ? { 'content-encoding': coding } : {}),
        });
        res.end(encoded);
      }
    }
  });
  closedPort = await freePort();
  pg = await startInProcess({
    yaml: `
server:
  readyCheckInterval: 1h
routes:
  - name: faulty
    prefix: /faulty
    upstream: { url: "${faulty.url}", headersTimeout: 300ms, bodyTimeout: 5s }
  - name: down
    prefix: /down
    upstream: { url: "http://127.0.0.1:${closedPort}" }
  - name: good
    prefix: /
    upstream: { url: "${good.url}" }
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
  await good?.close();
  await faulty?.close();
});

/** promgate is healthy after a fault: a request through it succeeds and is forwarded with the tenant matcher. */
async function assertServing(): Promise<void> {
  const r = await strictRequest(`${pg.url}/api/v1/query?query=up`);
  assert.equal(r.status, 200, r.body);
  assert.ok(r.complete);
  const q = new URL(good.received.at(-1)!.url, 'http://x').searchParams.get('query');
  assert.equal(q, 'up{namespace="team-a"}');
}

function coded(r: { status: number; body: string }, status: number, code: string): void {
  assert.equal(r.status, status, r.body);
  const j = JSON.parse(r.body) as Record<string, unknown>;
  assert.equal(j.status, 'error');
  assert.equal(j.code, code);
  assert.ok(typeof j.errorType === 'string' && typeof j.error === 'string');
  assert.doesNotMatch(r.body, /FOREIGN_SECRET/, 'nothing of the upstream body reaches the client');
}

test('connection refused: 502 PG_UPSTREAM_UNAVAILABLE, then promgate keeps serving', async () => {
  coded(await strictRequest(`${pg.url}/down/api/v1/query?query=up`), 502, 'PG_UPSTREAM_UNAVAILABLE');
  await assertServing();
});

test('an upstream that accepts and never answers: 504 PG_UPSTREAM_TIMEOUT at the route headersTimeout', async () => {
  const before = faulty.aborted;
  coded(await strictRequest(`${pg.url}/faulty/api/v1/query?query=up&mode=never`), 504, 'PG_UPSTREAM_TIMEOUT');
  // The upstream side sees its request given up, not left hanging.
  await waitFor(() => faulty.aborted > before, { what: 'the hung upstream request to be closed', timeoutMs: 5000 });
  await assertServing();
});

test('a reset mid-body (chunked): the client connection closes without the chunked terminator', async () => {
  const { bytes, closed } = await rawExchange(
    pg.port,
    `GET /faulty/api/v1/query?query=up&mode=reset-chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  const text = bytes.toString('latin1');
  assert.ok(closed);
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.match(text, /transfer-encoding: chunked/i);
  assert.ok(!text.endsWith('0\r\n\r\n'), 'a cut answer never carries the terminating chunk');
  const r = await strictRequest(`${pg.url}/faulty/api/v1/query?query=up&mode=reset-chunked`);
  assert.equal(r.complete, false, 'a strict client sees the answer broken');
  await assertServing();
});

test('a reset mid-body (Content-Length): the client gets fewer bytes than announced and a closed connection', async () => {
  const r = await strictRequest(`${pg.url}/faulty/api/v1/query?query=up&mode=reset-length`);
  assert.equal(r.complete, false);
  assert.ok(r.body.length < 1000);
  await assertServing();
});

test('invalid JSON on a filtered endpoint: 502 PG_UPSTREAM_BAD_RESPONSE, never the unfiltered body', async () => {
  coded(await strictRequest(`${pg.url}/faulty/api/v1/rules?mode=invalid`), 502, 'PG_UPSTREAM_BAD_RESPONSE');
  coded(await strictRequest(`${pg.url}/faulty/api/v1/rules?mode=shape`), 502, 'PG_UPSTREAM_BAD_RESPONSE');
  await assertServing();
});

test('a truncated answer on a filtered endpoint: 502, never the half that arrived', async () => {
  const r = await strictRequest(`${pg.url}/faulty/api/v1/rules?mode=truncated`);
  coded(r, 502, 'PG_UPSTREAM_UNAVAILABLE');
  await assertServing();
});

test('a filtered answer announced over maxFilteredResponseBytes: 502 from its head, promgate keeps serving', async () => {
  coded(await strictRequest(`${pg.url}/faulty/api/v1/rules?mode=declared-huge`), 502, 'PG_UPSTREAM_RESPONSE_TOO_LARGE');
  await assertServing();
});

test('control: the rules answer in identity is filtered to the tenant', async () => {
  const r = await strictRequest(`${pg.url}/faulty/api/v1/rules`);
  assert.equal(r.status, 200);
  assert.match(r.body, /"mine"/);
  assert.doesNotMatch(r.body, /FOREIGN_SECRET/);
});

for (const enc of ['gzip', 'br', 'deflate']) {
  test(`Content-Encoding ${enc} on a filtered endpoint is decoded and filtered`, async () => {
    const r = await strictRequest(`${pg.url}/faulty/api/v1/rules?enc=${enc}`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['content-encoding'], undefined);
    const j = JSON.parse(r.body) as { data: { groups: { rules: { name: string }[] }[] } };
    assert.deepEqual(
      j.data.groups.flatMap((g) => g.rules.map((x) => x.name)),
      ['mine'],
    );
  });
}

for (const enc of ['x-evil', 'gzip, x-evil', 'compress', 'gzip-garbage']) {
  test(`Content-Encoding ${enc} on a filtered endpoint is refused with 502, never passed on`, async () => {
    const r = await strictRequest(`${pg.url}/faulty/api/v1/rules?enc=${encodeURIComponent(enc)}`);
    coded(r, 502, 'PG_UPSTREAM_BAD_RESPONSE');
    await assertServing();
  });
}

/** An upstream whose rules answer never ends: it writes as fast as the gateway reads, counting the bytes. */
async function endless(
  stopAt: number,
): Promise<{ url: string; sent: () => number; closed: Promise<void>; close(): Promise<void> }> {
  let sent = 0;
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const server: Server = createServer((req, res: ServerResponse) => {
    if (!req.url?.includes('/api/v1/rules')) {
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"status":"success","data":{"groups":[{"name":"');
    res.on('close', onClosed);
    const pump = () => {
      while (!res.destroyed && sent < stopAt) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      // Past the bound: the gateway never stopped reading; end so the test fails instead of hanging.
      if (!res.destroyed) res.end('"}]}}');
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => sent,
    closed,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test(
  'an endless answer on a filtered endpoint: 502 at maxFilteredResponseBytes, the upstream cut off, memory bounded',
  { skip: promgateBuilt() ? false : 'needs npm run build (dist/cli/main.js)' },
  async () => {
    const limit = 32 * MiB;
    // Socket buffers on both sides of two loopback connections hold a few MiB; the bound is generous.
    const slack = 32 * MiB;
    const up = await endless(limit + slack);
    const gw = await startPromgate({
      configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, maxFilteredResponseBytes: 32MiB, readyCheckInterval: 1h, logLevel: warn }
routes:
  - { name: big, prefix: /, upstream: { url: "${up.url}" } }
auth: { anonymous: true }
tenants: { rules: [ { labels: { namespace: team-a } } ] }
`,
    });
    try {
      // Warm up the process, then take its resident size as the base.
      for (let i = 0; i < 20; i++) await strictRequest(`${gw.url}/-/ready`);
      const base = rssOf(gw.proc.pid!);
      const r = await strictRequest(`${gw.url}/api/v1/rules`);
      coded(r, 502, 'PG_UPSTREAM_RESPONSE_TOO_LARGE');
      await up.closed;
      assert.ok(up.sent() < limit + slack, `the upstream was cut off after ${up.sent()} bytes`);
      const peakish = rssOf(gw.proc.pid!);
      // It held at most the limit at once (plus parser and GC overhead); a gateway that buffered the stream
      // would have grown with every byte sent.
      assert.ok(peakish - base < 4 * limit, `RSS grew by ${((peakish - base) / MiB).toFixed(0)} MiB`);
      const again = await strictRequest(`${gw.url}/-/healthy`);
      assert.equal(again.status, 200);
    } finally {
      await gw.stop();
      await up.close();
    }
  },
);
