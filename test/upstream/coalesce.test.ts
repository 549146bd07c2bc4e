// Request coalescing: identical in-flight GETs of one tenant share one upstream call; tenants never share one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { coalesceKey } from '../../src/upstream/coalesce.js';
import { createUpstream, type Upstream } from '../../src/upstream/pool.js';
import type { UpstreamConfig } from '../../src/config/schema.js';
import { waitFor } from '../helpers/wait.js';

let upstreamServer: Server;
let front: Server;
let up: Upstream;
let frontUrl = '';
const calls: { path: string; tenant: string }[] = [];
let aborted = 0;
/** While holding, the upstream answers only when the test releases it, so callers can line up meanwhile. */
let holding = true;
const held: (() => void)[] = [];
/** Requests the gateway side has handed to the coalescer, and callers that left before their answer. */
let joined = 0;
let left = 0;

function listen(s: Server): Promise<string> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

before(async () => {
  // The upstream answers, once released, with the tenant it was asked for and its own call count.
  upstreamServer = createServer((req, res) => {
    const tenant = String(req.headers['x-scope-orgid'] ?? '');
    calls.push({ path: req.url ?? '', tenant });
    const n = calls.length;
    const answer = () => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ tenant, n, path: req.url }));
    };
    if (holding) held.push(answer);
    else answer();
    res.on('close', () => {
      if (!res.writableFinished) aborted++;
    });
  });
  const origin = await listen(upstreamServer);
  up = createUpstream({
    url: origin,
    connections: 8,
    headersTimeout: 5000,
    bodyTimeout: 5000,
    connectTimeout: 2000,
  } as UpstreamConfig);
  // The gateway side: the tenant comes from the (already authenticated) caller, here a query parameter.
  front = createServer((req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const tenant = u.searchParams.get('tenant') ?? '';
    const pathAndQuery = `/api/v1/query?query=${u.searchParams.get('q') ?? 'up'}`;
    const headers = { 'x-scope-orgid': tenant, 'x-request-id': String(Math.random()) };
    let cancel: (() => void) | undefined;
    res.on('close', () => {
      if (res.writableFinished) return;
      cancel?.();
      left++;
    });
    up.coalescer
      .stream(
        {
          tenantId: tenant,
          route: 'r',
          method: 'GET',
          pathAndQuery,
          body: null,
          headers,
          onCancel: (c) => (cancel = c),
        },
        res,
      )
      .catch(() => undefined);
    joined++;
  });
  frontUrl = await listen(front);
});

after(async () => {
  front.close();
  upstreamServer.close();
  await up.close();
});

/**
 * Once `n` requests have reached the coalescer since the test began (so every group they form exists), the
 * upstream answers every call it holds and, until the next hold(), each new one at once.
 */
async function releaseAfter(n: number): Promise<void> {
  await waitFor(() => joined >= n, { what: `${n} requests at the coalescer`, timeoutMs: 5000, intervalMs: 5 });
  holding = false;
  for (const answer of held.splice(0)) answer();
}

function reset(): void {
  holding = true;
  calls.length = 0;
  joined = 0;
  left = 0;
  aborted = 0;
}

function get(path: string): Promise<{ status: number; body: { tenant: string; n: number; path: string } }> {
  return new Promise((resolve, reject) => {
    request(`${frontUrl}${path}`, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    })
      .on('error', reject)
      .end();
  });
}

test('identical in-flight requests of one tenant share one upstream call', async () => {
  reset();
  const asked = Promise.all(Array.from({ length: 5 }, () => get('/?tenant=team-a&q=up')));
  await releaseAfter(5);
  const answers = await asked;
  assert.equal(calls.length, 1);
  for (const a of answers)
    assert.deepEqual(a, { status: 200, body: { tenant: 'team-a', n: 1, path: '/api/v1/query?query=up' } });
  assert.equal(up.coalescer.inflight, 0);
});

test('two tenants asking the very same query never share an upstream call or an answer', async () => {
  reset();
  const asked = Promise.all(['team-a', 'team-b', 'team-a', 'team-b'].map((t) => get(`/?tenant=${t}&q=up`)));
  await releaseAfter(4);
  const [a1, b1, a2, b2] = await asked;
  assert.equal(calls.length, 2);
  assert.deepEqual(calls.map((c) => c.tenant).sort(), ['team-a', 'team-b']);
  assert.equal(a1!.body.tenant, 'team-a');
  assert.equal(a2!.body.tenant, 'team-a');
  assert.equal(b1!.body.tenant, 'team-b');
  assert.equal(b2!.body.tenant, 'team-b');
});

test('the key separates tenants, paths and upstream headers, and ignores per-request noise', () => {
  const h = { 'x-scope-orgid': 'a', 'x-request-id': '1', 'x-forwarded-for': '10.0.0.1' };
  const k = coalesceKey('{namespace="a"}', 'r', 'GET', '/api/v1/query?query=up', h);
  assert.equal(
    k,
    coalesceKey('{namespace="a"}', 'r', 'GET', '/api/v1/query?query=up', {
      ...h,
      'x-request-id': '2',
      'x-forwarded-for': '10.0.0.2',
    }),
  );
  assert.notEqual(k, coalesceKey('{namespace="b"}', 'r', 'GET', '/api/v1/query?query=up', h));
  assert.notEqual(k, coalesceKey('{namespace="a"}', 'r', 'GET', '/api/v1/query?query=down', h));
  assert.notEqual(k, coalesceKey('{namespace="a"}', 'r2', 'GET', '/api/v1/query?query=up', h));
  assert.notEqual(
    k,
    coalesceKey('{namespace="a"}', 'r', 'GET', '/api/v1/query?query=up', { ...h, 'x-forwarded-user': 'bob' }),
  );
  assert.notEqual(
    k,
    coalesceKey('{namespace="a"}', 'r', 'GET', '/api/v1/query?query=up', { ...h, 'accept-encoding': 'gzip' }),
  );
  // A tenant id cannot be forged out of another tenant's id and route: the parts are length-prefixed.
  assert.notEqual(coalesceKey('a1:r', 'x', 'GET', '/p', {}), coalesceKey('a', 'r1:x', 'GET', '/p', {}));
  assert.notEqual(coalesceKey('ab', 'c', 'GET', '/p', {}), coalesceKey('a', 'bc', 'GET', '/p', {}));
  // A POST's form body is part of its identity.
  assert.notEqual(
    coalesceKey('a', 'r', 'POST', '/p', {}, Buffer.from('query=up')),
    coalesceKey('a', 'r', 'POST', '/p', {}, Buffer.from('query=down')),
  );
  assert.notEqual(coalesceKey('a', 'r', 'POST', '/p', {}, Buffer.from('')), coalesceKey('a', 'r', 'POST', '/p', {}));
});

test('a caller that leaves does not disturb the others; when every caller leaves, the upstream call is cancelled', async () => {
  reset();
  const leaver = request(`${frontUrl}/?tenant=team-c&q=slow`);
  leaver.on('error', () => undefined).end();
  await waitFor(() => calls.length === 1, { what: 'the upstream call', timeoutMs: 5000, intervalMs: 5 });
  const stayer = get('/?tenant=team-c&q=slow');
  await waitFor(() => joined === 2, { what: 'the second caller to join', timeoutMs: 5000, intervalMs: 5 });
  leaver.destroy();
  await waitFor(() => left === 1, { what: 'the first caller to leave', timeoutMs: 5000, intervalMs: 5 });
  await releaseAfter(2);
  const s = await stayer;
  assert.equal(s.body.tenant, 'team-c');
  assert.equal(calls.length, 1);
  assert.equal(aborted, 0);

  holding = true;
  const alone = request(`${frontUrl}/?tenant=team-c&q=slow2`);
  alone.on('error', () => undefined).end();
  await waitFor(() => calls.length === 2, { what: 'the lone upstream call', timeoutMs: 5000, intervalMs: 5 });
  alone.destroy();
  // The upstream holds its answer until released: only the cancelled call can end its connection early.
  await waitFor(() => aborted > 0, { what: 'the upstream call to be cancelled', timeoutMs: 5000, intervalMs: 5 });
  assert.equal(aborted, 1);
  assert.equal(up.coalescer.inflight, 0);
});

test('once the answer has started, a new request starts its own call (it would miss the start of the body)', async () => {
  reset();
  const first = get('/?tenant=team-d&q=up');
  await releaseAfter(1);
  await first;
  holding = true;
  const second = get('/?tenant=team-d&q=up');
  await releaseAfter(2);
  await second;
  assert.equal(calls.length, 2);
});

test('SigV4-signed twins share a key (the date and signature differ by the second); other credentials stay in the key', () => {
  const signed = (date: string, sig: string, token = 'tok') => ({
    accept: 'application/json',
    'x-amz-date': date,
    'x-amz-security-token': token,
    'x-amz-content-sha256': 'e3b0',
    authorization: `AWS4-HMAC-SHA256 Credential=AKIA/20261203/eu-west-1/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
  });
  const key = (h: Record<string, string>) => coalesceKey('{namespace="a"}', 'r', 'GET', '/api/v1/query?query=up', h);
  assert.equal(key(signed('20261203T120000Z', 'aa')), key(signed('20261203T120001Z', 'bb')));
  assert.notEqual(
    key(signed('20261203T120000Z', 'aa', 'tok')),
    key(signed('20261203T120000Z', 'aa', 'other')),
    'another session token is another caller',
  );
  assert.notEqual(
    key({ authorization: 'Bearer alice' }),
    key({ authorization: 'Bearer bob' }),
    'passthrough tokens keep callers apart',
  );
});
