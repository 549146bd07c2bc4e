// One typed error for every refusal the gateway makes, with stable codes and one renderer.
import { STATUS_CODES, type ServerResponse } from 'node:http';

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
  /** When it happens; docs/errors.md is generated from this table (scripts/errors-reference.mjs). */
  when: string;
}

/** Stable codes. Tests assert on these, never on message text. */
export const CODES = {
  PG_BAD_REQUEST: {
    status: 400,
    type: 'bad_data',
    when: 'A malformed request: path with dot segments or encoded slashes, bad query parameters, an untrusted Host for the sign-in callback.',
  },
  PG_BAD_QUERY: { status: 400, type: 'bad_data', when: 'The PromQL in `query` does not parse.' },
  PG_QUERY_TOO_LONG: {
    status: 400,
    type: 'bad_data',
    when: 'A query or `match[]` is longer than `server.maxQueryLength`.',
  },
  PG_TOO_MANY_MATCHERS: {
    status: 400,
    type: 'bad_data',
    when: 'More `match[]` selectors in one request than `server.maxMatchSelectors`.',
  },
  PG_BAD_MATCH: { status: 400, type: 'bad_data', when: 'A `match[]` selector does not parse.' },
  PG_BAD_BODY: {
    status: 400,
    type: 'bad_data',
    when: 'A request body promgate must read (form, silence) is malformed.',
  },
  PG_UNSUPPORTED_MEDIA: {
    status: 415,
    type: 'bad_data',
    when: 'A body in a media type promgate cannot check (e.g. a silence that is not JSON).',
  },
  PG_BODY_TOO_LARGE: { status: 413, type: 'too_large', when: 'A request body larger than `server.maxBodyBytes`.' },
  PG_HEADERS_TOO_LARGE: {
    status: 431,
    type: 'bad_data',
    when: 'The request line and headers exceed `server.maxHeaderBytes`.',
  },
  PG_URI_TOO_LONG: {
    status: 414,
    type: 'bad_data',
    when: 'The request line alone (method, path and query string) exceeds `server.maxHeaderBytes`.',
  },
  PG_CLIENT_TIMEOUT: {
    status: 408,
    type: 'timeout',
    when: 'The client did not send its request line and headers within `server.headersTimeout` (slowloris), or its whole request within `server.requestTimeout`.',
  },
  PG_AUTHN_REQUIRED: { status: 401, type: 'unauthorized', when: 'No credentials on a route that needs them.' },
  PG_AUTHN_BAD_CREDENTIALS: { status: 401, type: 'unauthorized', when: 'Wrong user name or password.' },
  PG_AUTHN_MALFORMED: { status: 401, type: 'unauthorized', when: 'An Authorization header that cannot be read.' },
  PG_AUTHN_TOKEN_INVALID: {
    status: 401,
    type: 'unauthorized',
    when: 'A bearer token with a bad signature, issuer, audience or algorithm.',
  },
  PG_AUTHN_CERT_INVALID: {
    status: 401,
    type: 'unauthorized',
    when: 'A client certificate that clientCaFile did not sign, or whose subject names no single identity (no CN or several, an unreadable subjectAltName).',
  },
  PG_AUTHN_TOKEN_EXPIRED: { status: 401, type: 'unauthorized', when: 'An expired bearer token or session.' },
  PG_AUTHN_UNAVAILABLE: {
    status: 503,
    type: 'unavailable',
    when: 'Credentials cannot be checked right now (JWKS, provider or session store unreachable).',
  },
  PG_AUTHN_LOGIN_FAILED: {
    status: 403,
    type: 'forbidden',
    when: 'The OpenID sign-in failed or the user is not allowed to sign in.',
  },
  PG_AUTHZ_DENIED: {
    status: 403,
    type: 'forbidden',
    when: "The route's allowedUsers/Groups/Emails do not include the caller.",
  },
  PG_TENANT_NONE: { status: 403, type: 'forbidden', when: 'The identity maps to no tenant.' },
  PG_UPSTREAM_IDENTITY_REFUSED: {
    status: 403,
    type: 'forbidden',
    when: 'A templated upstream URL needs a value this identity lacks, or its value is not a DNS label (a-z, 0-9, inner -, at most 63 characters), so it cannot choose an upstream.',
  },
  PG_TENANT_UNREPRESENTABLE: {
    status: 403,
    type: 'forbidden',
    when: "The identity's tenants cannot be expressed as one matcher per label.",
  },
  PG_TENANT_HEADER_INVALID: {
    status: 403,
    type: 'forbidden',
    when: "The tenant cannot be named in the route's tenant header (regex tenant, federation off, invalid id).",
  },
  PG_ENFORCE_CONFLICT: {
    status: 403,
    type: 'forbidden',
    when: 'With `errorOnConflict`, a selector that can never match inside the tenant.',
  },
  PG_ENFORCE_VERIFY_FAILED: {
    status: 500,
    type: 'internal',
    when: 'The rewritten query failed its own verification (a bug; nothing is forwarded).',
  },
  PG_PATH_REFUSED: {
    status: 403,
    type: 'forbidden',
    when: "An endpoint that would show other tenants' data (e.g. metadata without `allowMetadata`).",
  },
  PG_PATH_NOT_PROTECTED: { status: 403, type: 'forbidden', when: "A path outside the route's `protectedPaths`." },
  PG_METHOD_NOT_ALLOWED: {
    status: 405,
    type: 'bad_data',
    when: "A method the endpoint does not accept, or one outside the route's `methods`.",
  },
  PG_NOT_FOUND: {
    status: 404,
    type: 'not_found',
    when: 'A path that is not in the endpoint table, or a silence that does not exist.',
  },
  PG_NO_ROUTE: { status: 404, type: 'not_found', when: 'No route owns the path.' },
  PG_SILENCE_NOT_OWNED: {
    status: 403,
    type: 'forbidden',
    when: 'Changing or expiring a silence that belongs to another tenant.',
  },
  PG_UPSTREAM_UNAVAILABLE: {
    status: 502,
    type: 'unavailable',
    when: 'The upstream refused the connection, failed DNS or reset before answering.',
  },
  PG_UPSTREAM_TIMEOUT: {
    status: 504,
    type: 'timeout',
    when: "The upstream did not answer within the route's timeouts.",
  },
  PG_UPSTREAM_BAD_RESPONSE: {
    status: 502,
    type: 'unavailable',
    when: 'The upstream answered something promgate must filter but cannot read.',
  },
  PG_UPSTREAM_RESPONSE_TOO_LARGE: {
    status: 502,
    type: 'unavailable',
    when: 'A filtered answer larger than `server.maxFilteredResponseBytes`.',
  },
  PG_BODY_DUPLICATE_KEY: {
    status: 400,
    type: 'bad_data',
    when: 'A JSON body holds the same key twice (at any depth, also after unescaping): Go would keep the last one.',
  },
  PG_BODY_UNKNOWN_KEY: {
    status: 400,
    type: 'bad_data',
    when: 'A JSON body holds a key that is not a field, or a field not spelled exactly (Go would fold `Matchers` or `matcherſ` onto `matchers`).',
  },
  PG_UPSTREAM_CREDENTIALS: {
    status: 502,
    type: 'unavailable',
    when: 'promgate cannot get the credentials to sign for the upstream (credential provider or token endpoint failing).',
  },
  PG_UPSTREAM_AUTH_REFUSED: {
    status: 502,
    type: 'unavailable',
    when: "The upstream refused promgate's own credentials (401/403 to a signed request); the reason is in the log.",
  },
  PG_LIMIT_POINTS: {
    status: 400,
    type: 'bad_data',
    when: "A query_range asks for more points per series than `maxPointsPerSeries` (Prometheus' own wording, 400).",
  },
  PG_LIMIT_STEP: { status: 422, type: 'execution', when: "A query_range step below the tenant's `minStep`." },
  PG_LIMIT_QUERY_RANGE: { status: 422, type: 'execution', when: 'A query_range window longer than `maxQueryRange`.' },
  PG_LIMIT_SELECTOR_RANGE: {
    status: 422,
    type: 'execution',
    when: 'A range selector or subquery inside the PromQL longer than `maxSelectorRange`.',
  },
  PG_LIMIT_LOOKBACK: { status: 422, type: 'execution', when: 'A query reaching further back than `maxLookback`.' },
  PG_LIMIT_SERIES_RANGE: {
    status: 422,
    type: 'execution',
    when: 'A series, labels or label-values window longer than the limit.',
  },
  PG_LIMIT_BAD_TIME: {
    status: 400,
    type: 'bad_data',
    when: 'A time, duration or step parameter the limits cannot read.',
  },
  PG_RATE_LIMITED: {
    status: 429,
    type: 'too_many_requests',
    when: "Over the route's or identity's rate limit (429 with Retry-After).",
  },
  PG_RATE_LIMIT_UNAVAILABLE: {
    status: 503,
    type: 'unavailable',
    when: 'The shared rate-limit store (Redis) is unreachable and the route fails closed.',
  },
  PG_CONCURRENCY_LIMITED: {
    status: 429,
    type: 'too_many_requests',
    when: "Over the route's or tenant's concurrency limit and its queue (429 with Retry-After).",
  },
  PG_CONCURRENCY_UNAVAILABLE: {
    status: 503,
    type: 'unavailable',
    when: 'A queued request waited longer than the queue timeout (503 with Retry-After).',
  },
  PG_CIRCUIT_OPEN: {
    status: 503,
    type: 'unavailable',
    when: "The upstream's circuit breaker is open: calls fail fast until a probe succeeds (503 with Retry-After).",
  },
  PG_INTERNAL: { status: 500, type: 'internal', when: 'An unexpected error; details are in the log only.' },
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

/** The Prometheus API error body, the one JSON shape every refusal uses. */
export function errorBody(err: GatewayError): string {
  return JSON.stringify({ status: 'error', errorType: err.errorType, error: err.message, code: err.code });
}

/**
 * The one renderer of refusals: Prometheus API JSON for API callers, a short text page otherwise. A
 * refreshed session's cookies (or cookies being cleared) ride along in `setCookies`.
 */
export function renderError(
  res: ServerResponse,
  err: GatewayError,
  json: boolean,
  setCookies: readonly string[] = [],
): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const headers: Record<string, string | string[]> = { ...err.headers, 'cache-control': 'no-store' };
  let body: string;
  if (json) {
    headers['content-type'] = 'application/json';
    body = errorBody(err);
  } else {
    headers['content-type'] = 'text/plain; charset=utf-8';
    // A browser's page: the headers of src/lib/html-headers.ts (not imported: lib/ sits above this leaf), so a
    // page nothing may frame, load into, or read as anything but text.
    headers['content-security-policy'] = "default-src 'none'; frame-ancestors 'none'";
    headers['x-frame-options'] = 'DENY';
    headers['referrer-policy'] = 'no-referrer';
    headers['x-content-type-options'] = 'nosniff';
    body = `${err.status} ${err.message}\n(code ${err.code})\n`;
  }
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies];
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(err.status, headers);
  res.end(body);
}

/** A refusal written straight onto a socket, for requests node:http could not parse into a request at all. */
export function rawErrorResponse(err: GatewayError): string {
  const body = errorBody(err);
  return `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
