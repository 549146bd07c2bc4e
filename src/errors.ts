// One typed error for every refusal the gateway makes, with stable codes and one renderer.
import type { ServerResponse } from 'node:http';

/** Prometheus API errorType values (see prometheus/web/api/v1 errorType). */
export type ErrorType =
  | 'bad_data'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'timeout'
  | 'unavailable'
  | 'internal'
  | 'execution'
  | 'canceled'
  | 'too_large'
  | 'too_many_requests'
  | 'not_acceptable';

interface CodeSpec {
  status: number;
  type: ErrorType;
}

/** Stable codes. Tests assert on these, never on message text. */
export const CODES = {
  PG_BAD_REQUEST: { status: 400, type: 'bad_data' },
  PG_BAD_QUERY: { status: 400, type: 'bad_data' },
  PG_QUERY_TOO_LONG: { status: 400, type: 'bad_data' },
  PG_BAD_MATCH: { status: 400, type: 'bad_data' },
  PG_BAD_BODY: { status: 400, type: 'bad_data' },
  PG_UNSUPPORTED_MEDIA: { status: 415, type: 'bad_data' },
  PG_BODY_TOO_LARGE: { status: 413, type: 'too_large' },
  PG_HEADERS_TOO_LARGE: { status: 431, type: 'bad_data' },
  PG_AUTHN_REQUIRED: { status: 401, type: 'unauthorized' },
  PG_AUTHN_BAD_CREDENTIALS: { status: 401, type: 'unauthorized' },
  PG_AUTHN_MALFORMED: { status: 401, type: 'unauthorized' },
  PG_AUTHN_TOKEN_INVALID: { status: 401, type: 'unauthorized' },
  PG_AUTHN_TOKEN_EXPIRED: { status: 401, type: 'unauthorized' },
  PG_AUTHN_UNAVAILABLE: { status: 503, type: 'unavailable' },
  PG_AUTHN_LOGIN_FAILED: { status: 403, type: 'forbidden' },
  PG_AUTHZ_DENIED: { status: 403, type: 'forbidden' },
  PG_TENANT_NONE: { status: 403, type: 'forbidden' },
  PG_TENANT_UNREPRESENTABLE: { status: 403, type: 'forbidden' },
  PG_TENANT_HEADER_INVALID: { status: 403, type: 'forbidden' },
  PG_ENFORCE_CONFLICT: { status: 403, type: 'forbidden' },
  PG_ENFORCE_VERIFY_FAILED: { status: 500, type: 'internal' },
  PG_PATH_REFUSED: { status: 403, type: 'forbidden' },
  PG_PATH_NOT_PROTECTED: { status: 403, type: 'forbidden' },
  PG_METHOD_NOT_ALLOWED: { status: 405, type: 'bad_data' },
  PG_NOT_FOUND: { status: 404, type: 'not_found' },
  PG_NO_ROUTE: { status: 404, type: 'not_found' },
  PG_SILENCE_NOT_OWNED: { status: 403, type: 'forbidden' },
  PG_UPSTREAM_UNAVAILABLE: { status: 502, type: 'unavailable' },
  PG_UPSTREAM_TIMEOUT: { status: 504, type: 'timeout' },
  PG_UPSTREAM_BAD_RESPONSE: { status: 502, type: 'unavailable' },
  PG_UPSTREAM_RESPONSE_TOO_LARGE: { status: 502, type: 'unavailable' },
  // Query limits (src/limits/query-limits.ts): 400 where Prometheus itself answers 400, else 422 as Mimir does.
  PG_LIMIT_POINTS: { status: 400, type: 'bad_data' },
  PG_LIMIT_STEP: { status: 422, type: 'execution' },
  PG_LIMIT_QUERY_RANGE: { status: 422, type: 'execution' },
  PG_LIMIT_SELECTOR_RANGE: { status: 422, type: 'execution' },
  PG_LIMIT_LOOKBACK: { status: 422, type: 'execution' },
  PG_LIMIT_SERIES_RANGE: { status: 422, type: 'execution' },
  PG_LIMIT_BAD_TIME: { status: 400, type: 'bad_data' },
  PG_RATE_LIMITED: { status: 429, type: 'too_many_requests' },
  /** The shared rate-limit store (Redis) cannot be reached and the route fails closed. */
  PG_RATE_LIMIT_UNAVAILABLE: { status: 503, type: 'unavailable' },
  PG_CONCURRENCY_LIMITED: { status: 429, type: 'too_many_requests' },
  PG_CONCURRENCY_UNAVAILABLE: { status: 503, type: 'unavailable' },
  PG_CIRCUIT_OPEN: { status: 503, type: 'unavailable' },
  PG_SHUTTING_DOWN: { status: 503, type: 'unavailable' },
  PG_INTERNAL: { status: 500, type: 'internal' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof CODES;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errorType: ErrorType;
  /** Extra response headers, e.g. WWW-Authenticate. */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; headers?: Record<string, string> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = CODES[code].status;
    this.errorType = CODES[code].type;
    this.headers = opts.headers ?? {};
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** Anything that is not a GatewayError becomes PG_INTERNAL; its details stay in the log. */
export function toGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  return new GatewayError('PG_INTERNAL', 'internal gateway error', { cause: e });
}

/** API callers (Grafana, promtool, scripts) get Prometheus JSON; everything else gets a short page. */
export function wantsJson(path: string, accept: string | undefined): boolean {
  if (path.includes('/api/') || path.endsWith('/federate')) return true;
  return accept !== undefined && accept.includes('application/json') && !accept.includes('text/html');
}

export function renderError(res: ServerResponse, err: GatewayError, json: boolean): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const headers: Record<string, string> = { ...err.headers, 'cache-control': 'no-store' };
  let body: string;
  if (json) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify({ status: 'error', errorType: err.errorType, error: err.message, code: err.code });
  } else {
    headers['content-type'] = 'text/plain; charset=utf-8';
    headers['x-content-type-options'] = 'nosniff';
    body = `${err.status} ${err.message}\n(code ${err.code})\n`;
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(err.status, headers);
  res.end(body);
}
