// The streaming dispatch handler (fanout.ts) against a real node:http upstream and real client responses: pacing, errors, cancel, fan-out, refusals.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { Dispatcher, Pool, errors } from 'undici';
import { forwardStream, type ForwardRequest } from '../../src/upstream/forward.js';
import { Coalescer } from '../../src/upstream/coalesce.js';
import { GuardedDispatcher } from '../../src/upstream/guard.js';
import { CircuitBreaker } from '../../src/upstream/breaker.js';
import { UpstreamRefused } from '../../src/upstream/refusal.js';
import { ManualClock } from '../limits/manual-clock.js';

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s: Server = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  closers.push(
    () =>
      new Promise((r) => {
        s.closeAllConnections();
        s.close(r);
      }),
  );
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** A deferred value: the tests wait on events, never on time. */
function later<T = void>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => request(url, { agent: false }, resolve).on('error', reject).end());
}

/** Reads a client response to its end; `complete` is false when it was cut off. */
function readAll(msg: IncomingMessage): Promise<{ body: string; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    msg.on('data', (c: Buffer) => chunks.push(c));
    msg.on('error', () => undefined);
    msg.on('close', () => resolve({ body: Buffer.concat(chunks).toString(), complete: msg.complete }));
  });
}

/** Observes what the handler asks of undici's controller: pauses, resumes, and any data delivered while paused. */
class Spy extends Dispatcher {
  pauses = 0;
  resumes = 0;
  dataWhilePaused = 0;
  isPaused = false;
  onPause: (() => void) | undefined;

  constructor(private readonly inner: Dispatcher) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler): boolean {
    let seen: Dispatcher.DispatchController | undefined;
    let wrapped: Dispatcher.DispatchController | undefined;
    const wrap = (c: Dispatcher.DispatchController): Dispatcher.DispatchController => {
      if (seen === c && wrapped) return wrapped;
      seen = c;
      wrapped = {
        get aborted() {
          return c.aborted;
        },
        get paused() {
          return c.paused;
        },
        get reason() {
          return c.reason;
        },
        abort: (r: Error) => c.abort(r),
        pause: () => {
          this.pauses++;
          this.isPaused = true;
          c.pause();
          this.onPause?.();
        },
        resume: () => {
          this.resumes++;
          this.isPaused = false;
          c.resume();
        },
      };
      return wrapped;
    };
    return this.inner.dispatch(opts, {
      onRequestStart: (c, ctx: unknown) => h.onRequestStart?.(wrap(c), ctx),
      onResponseStart: (c, s, hd, m) => h.onResponseStart?.(wrap(c), s, hd, m),
      onResponseData: (c, chunk) => {
        if (this.isPaused) this.dataWhilePaused++;
        h.onResponseData?.(wrap(c), chunk);
      },
      onResponseEnd: (c, t) => h.onResponseEnd?.(wrap(c), t),
      onResponseError: (c, e) => h.onResponseError?.(wrap(c), e),
    });
  }
}

/** The plain pool, and the pool behind the breaker's guard (which must hand the controller through). */
const VARIANTS: [string, (p: Pool) => Dispatcher][] = [
  ['pool', (p) => p],
  [
    'guarded',
    (p) =>
      new GuardedDispatcher(
        p,
        'up',
        new CircuitBreaker(
          { failures: 5, window: 10_000, minRequests: 10, coolDown: 5000, halfOpenProbes: 1 },
          new ManualClock(),
        ),
        undefined,
        { clock: new ManualClock(), onRetry: () => undefined },
      ),
  ],
];

function pool(origin: string): Pool {
  const p = new Pool(origin, { connections: 2, pipelining: 1 });
  closers.push(() => p.destroy());
  return p;
}

const GET = (extra: Partial<ForwardRequest> = {}): ForwardRequest => ({
  method: 'GET',
  pathAndQuery: '/q',
  headers: {},
  ...extra,
});

for (const [name, wrap] of VARIANTS) {
  test(
    `${name}: a slow reader paces the upstream; the whole answer arrives once it reads`,
    { timeout: 60_000 },
    async () => {
      const TOTAL = 64 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let written = 0;
      let upstreamDoneBeforeRead = false;
      let clientRead = 0;
      // The client starts reading once the upstream waits for 'drain' while the handler holds undici paused.
      let upstreamWaiting = false;
      const stalled = later();
      const origin = await listen((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) });
        const pump = (): void => {
          while (written < TOTAL) {
            written += chunk.length;
            if (!res.write(chunk)) {
              upstreamWaiting = true;
              if (spy.isPaused) stalled.resolve();
              res.once('drain', () => {
                upstreamWaiting = false;
                pump();
              });
              return;
            }
          }
          if (clientRead === 0) upstreamDoneBeforeRead = true;
          res.end();
        };
        pump();
      });
      const spy = new Spy(wrap(pool(origin)));
      spy.onPause = () => {
        if (upstreamWaiting) stalled.resolve();
      };
      let gw: ServerResponse | undefined;
      let maxBuffered = 0;
      const settled = later<number>();
      const front = await listen((_req, res) => {
        gw = res;
        const write = res.write.bind(res) as (c: Buffer) => boolean;
        // Whatever the gateway holds for its client beyond the socket: bounded when the handler waits for 'drain'.
        res.write = ((c: Buffer) => {
          const ok = write(c);
          maxBuffered = Math.max(maxBuffered, res.writableLength);
          return ok;
        }) as typeof res.write;
        void forwardStream({ dispatcher: spy, basePath: '' }, GET(), res).then(settled.resolve);
      });
      const msg = await get(front); // the client does not read yet
      await stalled.promise;
      assert.ok(written < TOTAL, 'the upstream is held back while the client reads nothing');
      const bound = gw!.writableHighWaterMark + 1024 * 1024;
      let size = 0;
      msg.on('data', (c: Buffer) => {
        size += c.length;
        clientRead = size;
      });
      await new Promise((r) => msg.on('end', r));
      assert.equal(await settled.promise, 200);
      assert.equal(size, TOTAL);
      assert.equal(written, TOTAL);
      assert.equal(upstreamDoneBeforeRead, false, 'the upstream cannot finish while the client reads nothing');
      assert.ok(
        maxBuffered <= bound,
        `the gateway never held more than a chunk over its high-water mark (${maxBuffered} bytes)`,
      );
      assert.ok(spy.pauses >= 1);
      assert.equal(spy.resumes, spy.pauses, 'every pause was resumed');
      assert.equal(spy.dataWhilePaused, 0, 'no data is handed over while paused');
    },
  );

  test(`${name}: a client going away aborts the upstream call (seen by the upstream)`, async () => {
    const upstreamAborted = later();
    const origin = await listen((_req, res) => {
      res.writeHead(200);
      res.write('first');
      res.on('close', () => {
        if (!res.writableFinished) upstreamAborted.resolve();
      });
    });
    const d = wrap(pool(origin));
    const outcome = later<unknown>();
    const front = await listen((_req, res) => {
      let cancel: (() => void) | undefined;
      res.on('close', () => {
        if (!res.writableFinished) cancel?.();
      });
      forwardStream({ dispatcher: d, basePath: '' }, GET({ onCancel: (c) => (cancel = c) }), res).then(
        outcome.resolve,
        outcome.resolve,
      );
    });
    const msg = await get(front);
    msg.once('data', () => msg.destroy());
    msg.on('error', () => undefined);
    await upstreamAborted.promise;
    assert.ok((await outcome.promise) instanceof errors.RequestAbortedError);
  });
}

test('a failure after the head destroys the client response: a cut answer never looks complete', async () => {
  const origin = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"partial":', () => res.socket?.destroy());
  });
  const d = pool(origin);
  const outcome = later<unknown>();
  let gw: ServerResponse | undefined;
  const front = await listen((_req, res) => {
    gw = res;
    forwardStream({ dispatcher: d, basePath: '' }, GET(), res).then(outcome.resolve, outcome.resolve);
  });
  const got = await readAll(await get(front));
  assert.equal(got.complete, false);
  assert.ok((await outcome.promise) instanceof Error);
  assert.ok(gw!.destroyed);
});

test('a request body still streaming up is destroyed when the call fails', async () => {
  const origin = await listen((req) => req.socket.destroy());
  const d = pool(origin);
  const body = new PassThrough();
  body.write('query=up&');
  const outcome = later<unknown>();
  const front = await listen((_req, res) => {
    forwardStream(
      { dispatcher: d, basePath: '' },
      { method: 'POST', pathAndQuery: '/q', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
      res,
    ).then(outcome.resolve, (err: unknown) => {
      outcome.resolve(err);
      res.writeHead(502).end();
    });
  });
  const msg = await get(front);
  assert.equal(msg.statusCode, 502, 'nothing was sent before the failure, so the gateway could still answer');
  msg.resume();
  assert.ok((await outcome.promise) instanceof Error);
  assert.ok(body.destroyed);
});

test('1xx answers are skipped; onHead adjusts the headers before they are written', async () => {
  const origin = await listen((_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' });
    res.writeHead(200, { location: '/upstream/x', 'set-cookie': 'up=1' });
    res.end('ok');
  });
  const d = pool(origin);
  const front = await listen((_req, res) => {
    void forwardStream({ dispatcher: d, basePath: '' }, GET(), res, (status, headers) => {
      assert.equal(status, 200);
      headers.location = '/gateway/x';
      headers['set-cookie'] = [String(headers['set-cookie']), 'session=new'];
    });
  });
  const msg = await get(front);
  assert.equal(msg.statusCode, 200);
  assert.equal(msg.headers.location, '/gateway/x');
  assert.deepEqual(msg.headers['set-cookie'], ['up=1', 'session=new']);
  assert.equal((await readAll(msg)).body, 'ok');
});

test('a signed request refused with 401 rejects with UpstreamRefused and streams nothing; unsigned, the 401 streams', async () => {
  const origin = await listen((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    res.end('token expired');
  });
  const d = pool(origin);
  const outcome = later<unknown>();
  const front = await listen((req, res) => {
    const refuseAuth = req.url === '/signed';
    forwardStream({ dispatcher: d, basePath: '' }, GET({ refuseAuth }), res).then(outcome.resolve, (err: unknown) => {
      outcome.resolve({ err, headersSent: res.headersSent });
      res.writeHead(502).end();
    });
  });
  const signed = await get(`${front}/signed`);
  assert.equal(signed.statusCode, 502);
  signed.resume();
  const { err, headersSent } = (await outcome.promise) as { err: unknown; headersSent: boolean };
  assert.equal(headersSent, false);
  assert.ok(err instanceof UpstreamRefused);
  assert.equal(err.status, 401);
  assert.match(err.reason, /invalid_token.*token expired/);
  const plain = await get(`${front}/plain`);
  assert.equal(plain.statusCode, 401);
  assert.equal((await readAll(plain)).body, 'token expired');
});

/** An upstream whose answer the test releases in two parts, and a front that coalesces every call to `/q`. */
async function coalescing(): Promise<{
  front: string;
  calls: () => number;
  joined: Promise<void>;
  release(part: 'head' | 'rest'): void;
  upstreamAborted: Promise<void>;
  outcomes: Promise<unknown>[];
}> {
  let n = 0;
  const head = later();
  const rest = later();
  const upstreamAborted = later();
  const origin = await listen((_req, res) => {
    n++;
    res.on('close', () => {
      if (!res.writableFinished) upstreamAborted.resolve();
    });
    void head.promise.then(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one;');
      return rest.promise.then(() => res.end('two'));
    });
  });
  const c = new Coalescer(pool(origin), '');
  const outcomes: Promise<unknown>[] = [];
  const joined = later();
  const front = await listen((_req, res) => {
    let cancel: (() => void) | undefined;
    res.on('close', () => {
      if (!res.writableFinished) cancel?.();
    });
    outcomes.push(
      c
        .stream(
          {
            tenantId: 't',
            route: 'r',
            method: 'GET',
            pathAndQuery: '/q',
            body: null,
            headers: {},
            onCancel: (f) => (cancel = f),
          },
          res,
        )
        .catch((e: unknown) => e),
    );
    if (outcomes.length === 2) joined.resolve();
  });
  return {
    front,
    calls: () => n,
    joined: joined.promise,
    release: (p) => (p === 'head' ? head : rest).resolve(),
    upstreamAborted: upstreamAborted.promise,
    outcomes,
  };
}

test('one of two members leaving keeps the other streaming from the same upstream call', async () => {
  const s = await coalescing();
  const ma = get(s.front);
  const mb = get(s.front);
  await s.joined;
  s.release('head');
  const [a, b] = await Promise.all([ma, mb]);
  assert.equal(s.calls(), 1, 'both callers share one upstream call');
  const gotB = readAll(b);
  a.on('error', () => undefined);
  await new Promise((r) => a.once('data', r));
  a.destroy();
  assert.ok((await s.outcomes[0]) instanceof errors.RequestAbortedError, 'the first caller left');
  s.release('rest');
  assert.deepEqual(await gotB, { body: 'one;two', complete: true });
  assert.equal(await s.outcomes[1], 200);
});

test('the last member leaving aborts the upstream call', async () => {
  const s = await coalescing();
  const ma = get(s.front);
  const mb = get(s.front);
  await s.joined;
  s.release('head');
  for (const m of await Promise.all([ma, mb])) {
    m.on('error', () => undefined);
    m.destroy();
  }
  await s.upstreamAborted;
  for (const o of await Promise.all(s.outcomes)) assert.ok(o instanceof errors.RequestAbortedError);
});
