// Breaker and retries around a real undici pool and real sockets: what is retried, what never is, and failing fast.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { GatewayError } from '../../src/errors.js';
import { GuardedDispatcher } from '../../src/upstream/guard.js';
import { CircuitBreaker } from '../../src/upstream/breaker.js';
import { RetryPolicy } from '../../src/upstream/retry.js';
import type { RetryConfig } from '../../src/config/schema-limits.js';
import { freePort } from '../e2e/harness/ports.js';
import { ManualClock } from '../limits/manual-clock.js';

const RETRY: RetryConfig = { attempts: 2, backoff: 100, maxBackoff: 1000, budget: 0.2, minRetries: 3 };
const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c().catch(() => undefined);
});

interface Setup {
  port: number;
  clock: ManualClock;
  guard: GuardedDispatcher;
  retries: number[];
  /** Resolves at the next retry the guard schedules (after its backoff timer is set). */
  nextRetry(): Promise<void>;
}

async function setup(opts: { retry?: RetryConfig; breaker?: boolean } = {}): Promise<Setup> {
  const port = await freePort();
  const clock = new ManualClock();
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4, pipelining: 1 });
  closers.push(() => pool.destroy());
  const retries: number[] = [];
  let waiter: (() => void) | undefined;
  const breaker = opts.breaker
    ? new CircuitBreaker({ failures: 2, window: 10_000, minRequests: 10, coolDown: 5000, halfOpenProbes: 1 }, clock)
    : undefined;
  const retry = opts.retry ? new RetryPolicy(opts.retry, clock, () => 0.5) : undefined;
  const guard = new GuardedDispatcher(pool, 'up', breaker, retry, {
    clock,
    onRetry(n) {
      retries.push(n);
      // The backoff timer is set right after this call returns.
      queueMicrotask(() => waiter?.());
    },
  });
  return { port, clock, guard, retries, nextRetry: () => new Promise((r) => (waiter = r)) };
}

/** An HTTP server on `port` answering "ok", counting requests and connections. */
async function serve(
  port: number,
  handler?: (req: IncomingMessage, res: ServerResponse, socket: Socket) => void,
): Promise<{ requests: number; connections: number; server: Server }> {
  const s = { requests: 0, connections: 0, server: undefined as unknown as Server };
  s.server = createServer((req, res) => {
    s.requests++;
    req.resume();
    req.on('end', () => (handler ? handler(req, res, req.socket) : res.end('ok')));
  });
  s.server.on('connection', () => s.connections++);
  await new Promise<void>((r) => s.server.listen(port, '127.0.0.1', () => r()));
  closers.push(
    () =>
      new Promise((r) => {
        s.server.closeAllConnections();
        s.server.close(r);
      }),
  );
  return s;
}

async function call(
  d: Dispatcher,
  opts: Partial<Dispatcher.RequestOptions> & { idempotent?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const r = await d.request({ path: '/x', method: 'GET', ...opts } as Dispatcher.RequestOptions);
  return { status: r.statusCode, body: await r.body.text() };
}

test('a GET refused once is sent again after the backoff and answered', async () => {
  const s = await setup({ retry: RETRY });
  const retried = s.nextRetry();
  const answer = call(s.guard);
  await retried; // the real connect was refused: nothing listens yet
  assert.deepEqual(s.retries, [1]);
  const srv = await serve(s.port);
  s.clock.advance(74);
  assert.equal(srv.requests, 0, 'not before its (jittered) backoff: 50..100 ms, 75 with this random');
  s.clock.advance(1);
  assert.deepEqual(await answer, { status: 200, body: 'ok' });
  assert.equal(srv.requests, 1);
});

test('a POST whose body is a stream is never retried, even when nothing was sent', async () => {
  const s = await setup({ retry: RETRY });
  await assert.rejects(
    call(s.guard, { method: 'POST', body: Readable.from([Buffer.from('query=up')]) }),
    (e) => (e as { code?: string }).code === 'ECONNREFUSED',
  );
  assert.deepEqual(s.retries, []);
});

test('a POST read whole is retried only when the caller vouches it is a read', async () => {
  const s = await setup({ retry: RETRY });
  await assert.rejects(call(s.guard, { method: 'POST', body: Buffer.from('query=up') }));
  assert.deepEqual(s.retries, []);
  const retried = s.nextRetry();
  const answer = call(s.guard, { method: 'POST', body: Buffer.from('query=up'), idempotent: true });
  await retried;
  await serve(s.port);
  s.clock.advance(1000);
  assert.equal((await answer).status, 200);
});

test('a request that reached the upstream is never sent again: reset after the body went out, or after answer bytes', async () => {
  const s = await setup({ retry: RETRY });
  let mode: 'reset' | 'partial' = 'reset';
  const srv = await serve(s.port, (_req, res, socket) => {
    if (mode === 'reset') socket.destroy();
    else {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => socket.destroy());
    }
  });
  await assert.rejects(call(s.guard));
  assert.equal(srv.requests, 1);
  await assert.rejects(call(s.guard, { method: 'POST', body: Buffer.from('query=up'), idempotent: true }));
  assert.equal(srv.requests, 2);
  mode = 'partial';
  await assert.rejects(call(s.guard));
  assert.equal(srv.requests, 3);
  assert.deepEqual(s.retries, [], 'no retry for any of them');
});

test('the budget caps retries: with none left the failure goes straight to the caller', async () => {
  const s = await setup({ retry: { ...RETRY, budget: 0, minRetries: 0 } });
  await assert.rejects(call(s.guard), (e) => (e as { code?: string }).code === 'ECONNREFUSED');
  assert.deepEqual(s.retries, []);
});

test('an open circuit fails fast with 503 and Retry-After, without opening a connection; a probe closes it', async () => {
  const s = await setup({ breaker: true });
  // Two refused connects open it.
  await assert.rejects(call(s.guard));
  await assert.rejects(call(s.guard));
  const srv = await serve(s.port, (_req, res) => res.end('ok'));
  for (let i = 0; i < 5; i++) {
    await assert.rejects(
      call(s.guard),
      (e) =>
        e instanceof GatewayError &&
        e.code === 'PG_CIRCUIT_OPEN' &&
        e.status === 503 &&
        e.headers['retry-after'] === '5',
    );
  }
  assert.equal(srv.connections, 0, 'no connection was even attempted while open');
  s.clock.advance(5000);
  assert.equal(s.guard.breaker!.state(), 'half-open');
  assert.equal((await call(s.guard)).status, 200);
  assert.equal(s.guard.breaker!.state(), 'closed');
});

test('5xx answers count as failures, 4xx do not', async () => {
  const s = await setup({ breaker: true });
  let status = 404;
  await serve(s.port, (_req, res) => {
    res.writeHead(status);
    res.end();
  });
  for (let i = 0; i < 5; i++) assert.equal((await call(s.guard)).status, 404);
  assert.equal(s.guard.breaker!.state(), 'closed');
  status = 503;
  await call(s.guard);
  await call(s.guard);
  assert.equal(s.guard.breaker!.state(), 'open');
});
