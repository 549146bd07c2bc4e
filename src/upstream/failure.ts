// How an upstream call failed (refused, timed out, reset, aborted) and the coded error a client gets for it.
import { errors as undiciErrors } from 'undici';
import { GatewayError } from '../errors.js';

export type UpstreamFailure = 'unavailable' | 'timeout' | 'reset' | 'aborted';

/** Classify an undici/network error: refused or DNS → unavailable (502), timeouts → timeout (504). */
export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (e?.name === 'AbortError' || code === 'UND_ERR_ABORTED' || err instanceof undiciErrors.RequestAbortedError)
    return 'aborted';
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'ETIMEDOUT'
  )
    return 'timeout';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'unavailable';
}

export function upstreamError(failure: UpstreamFailure, upstreamName: string, err: unknown): GatewayError {
  if (failure === 'timeout')
    return new GatewayError('PG_UPSTREAM_TIMEOUT', `upstream ${upstreamName} timed out`, { cause: err });
  return new GatewayError('PG_UPSTREAM_UNAVAILABLE', `upstream ${upstreamName} is unavailable`, { cause: err });
}
