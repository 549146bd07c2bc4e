// Sends one request upstream over the pool: streamed straight into the client response, or read whole (with a limit) for filtering.
import type { ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
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

/** Read the whole upstream answer (for responses that must be filtered), refusing bodies over `limit` bytes. */
export async function forwardWhole(up: Upstream, fr: ForwardRequest, limit: number): Promise<WholeResponse> {
  const r = await up.dispatcher.request({
    path: up.basePath + fr.pathAndQuery,
    method: fr.method as 'GET',
    headers: fr.headers,
    body: fr.body ?? null,
    signal: fr.signal,
  });
  const declared = Number(r.headers['content-length'] ?? 0);
  if (declared > limit) {
    r.body.destroy();
    throw new GatewayError(
      'PG_UPSTREAM_RESPONSE_TOO_LARGE',
      `upstream response of ${declared} bytes is over the ${limit}-byte filtering limit`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of r.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      r.body.destroy();
      throw new GatewayError(
        'PG_UPSTREAM_RESPONSE_TOO_LARGE',
        `upstream response is over the ${limit}-byte filtering limit`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks, size) };
}
