// Sends one request upstream over the pool: streamed straight into the client response, or read whole (with a limit) for filtering.
import type { ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors.js';

export { classifyUpstreamError, upstreamError, type UpstreamFailure } from './failure.js';
import { FanOut, type OnHead } from './fanout.js';
import type { Upstream } from './pool.js';
import type { GuardedDispatchOptions } from './guard.js';

export interface ForwardRequest {
  method: string;
  /** Path + query relative to the upstream base path, starting with '/'. */
  pathAndQuery: string;
  headers: Record<string, string | string[]>;
  body?: Buffer | string | Readable | null;
  /** forwardWhole only: an AbortSignal, or an EventEmitter that emits 'abort' (undici takes both; the emitter is cheaper). */
  signal?: AbortSignal | EventEmitter;
  /** forwardStream only: receives the function that cancels the upstream call (cheaper than a signal). */
  onCancel?: (cancel: () => void) => void;
  /** forwardStream only: the request is signed, so a 401/403 rejects with UpstreamRefused instead of streaming. */
  refuseAuth?: boolean;
  /** A POST that is a read (a Prometheus query form) and may be sent again if its connection fails. */
  idempotent?: boolean;
}

/**
 * Stream the upstream answer into `res` with backpressure, no buffering. Resolves with the status once the
 * whole answer is handed to `res`. `onHead` may adjust the status/headers before they are written (e.g. to
 * add Set-Cookie). A failure after the head destroys `res`, so a truncated body never looks complete.
 */
export function forwardStream(
  up: Pick<Upstream, 'dispatcher' | 'basePath'>,
  fr: ForwardRequest,
  res: ServerResponse,
  onHead?: OnHead,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const body = fr.body ?? null;
    // The one-member case of the shared handler: nobody else can join (no close hook), nothing is cached.
    const h = new FanOut({ refuseAuth: fr.refuseAuth, body });
    const m = h.join(res, onHead, resolve, reject);
    fr.onCancel?.(() => h.leave(m));
    up.dispatcher.dispatch(
      {
        path: up.basePath + fr.pathAndQuery,
        method: fr.method as 'GET',
        headers: fr.headers,
        body,
        idempotent: fr.idempotent,
      } as GuardedDispatchOptions,
      h,
    );
  });
}

export interface WholeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const ignore = (): void => undefined;

/** The content codings a filtered answer may come in; any other is refused, never passed on unfiltered. */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(),
  'x-gzip': () => createGunzip(),
  deflate: () => createInflate(),
  br: () => createBrotliDecompress(),
};

/**
 * Read the whole upstream answer (for responses that must be filtered), refusing bodies over `limit` bytes.
 * promgate asks for `identity`; an upstream that encodes anyway is decoded (gzip, deflate, br), the limit
 * counting decoded bytes so a compression bomb stops there too, and any other coding is refused (502).
 */
export async function forwardWhole(up: Upstream, fr: ForwardRequest, limit: number): Promise<WholeResponse> {
  const r = await up.dispatcher.request({
    path: up.basePath + fr.pathAndQuery,
    method: fr.method as 'GET',
    headers: fr.headers,
    body: fr.body ?? null,
    signal: fr.signal,
  });
  // Destroying the body to stop reading emits 'error' on it; unheard, that error would end the process.
  r.body.on('error', ignore);
  const declared = Number(r.headers['content-length'] ?? 0);
  if (declared > limit) {
    r.body.destroy();
    throw new GatewayError(
      'PG_UPSTREAM_RESPONSE_TOO_LARGE',
      `upstream response of ${declared} bytes is over the ${limit}-byte filtering limit`,
    );
  }
  const headers = { ...r.headers };
  const d = decoded(r.body, headers);
  try {
    return { status: r.statusCode, headers, body: await readAtMost(d.source, limit) };
  } catch (e) {
    r.body.destroy();
    d.decoder?.destroy();
    // A body that does not decode is an answer promgate cannot read; a network failure stays what it is.
    if (d.decoder && !d.bodyFailed() && !(e instanceof GatewayError))
      throw new GatewayError('PG_UPSTREAM_BAD_RESPONSE', `upstream answer does not decode as ${d.coding}`, {
        cause: e,
      });
    throw e;
  }
}

interface Decoded {
  source: Readable;
  decoder?: Transform;
  coding: string;
  /** The upstream body itself failed (a network error), as opposed to its bytes not decoding. */
  bodyFailed(): boolean;
}

/**
 * The answer's bytes as promgate reads them: decoded when the upstream encoded them anyway (the coding headers
 * then dropped from `headers`); a coding promgate cannot read is refused.
 */
function decoded(body: Readable, headers: WholeResponse['headers']): Decoded {
  const coding = String(headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (coding === '' || coding === 'identity') return { source: body, coding, bodyFailed: () => false };
  const make = DECODERS[coding];
  if (!make) {
    body.destroy();
    throw new GatewayError(
      'PG_UPSTREAM_BAD_RESPONSE',
      `upstream answered in content-encoding "${coding.slice(0, 64)}", which promgate cannot read to filter`,
    );
  }
  const decoder = make();
  let failed = false;
  body.on('error', (e) => {
    failed = true;
    decoder.destroy(e);
  });
  delete headers['content-encoding'];
  delete headers['content-length'];
  return { source: body.pipe(decoder), decoder, coding, bodyFailed: () => failed };
}

/** Reads a stream whole, refusing it once it passes `limit` bytes. */
async function readAtMost(source: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new GatewayError(
        'PG_UPSTREAM_RESPONSE_TOO_LARGE',
        `upstream response is over the ${limit}-byte filtering limit`,
      );
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
