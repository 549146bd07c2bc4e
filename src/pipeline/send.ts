// The send stage: signs the planned request and answers from the results cache, a shared (coalesced) call, a stream, or a filter.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Plan } from '../enforce/request.js';
import { forwardStream, forwardWhole, classifyUpstreamError, upstreamError } from '../upstream/forward.js';
import { rewriteLocation } from '../upstream/location.js';
import { isQueryPath } from '../upstream/results-cache.js';
import type { UpstreamCall } from '../upstream/signers/index.js';
import { RefusalCapture, UpstreamRefused, isRefusal } from '../upstream/refusal.js';
import type { RequestContext } from './runtime.js';
import type { RouteRuntime, Runtime, UpstreamHeaders } from './runtime.js';
import { templateRequest } from './templates.js';

type StreamPlan = Extract<Plan, { type: 'stream' }>;
type FilterPlan = Extract<Plan, { type: 'filter' }>;

/** Cancels the upstream call when the client goes away, through the response's one 'close' listener. */
type OnCancel = (cancel: () => void) => void;

export async function send(
  rt: Runtime,
  ctx: RequestContext,
  route: RouteRuntime,
  plan: Plan,
  headers: UpstreamHeaders,
): Promise<void> {
  const { res } = ctx;
  if (ctx.identity?.setCookies) res.setHeader('set-cookie', ctx.identity.setCookies);
  if (plan.type === 'json') return sendJson(res, plan.status, plan.body);
  bodyHeaders(plan, headers);
  const onCancel = cancellation(ctx);
  try {
    if (plan.type === 'filter') return await sendFiltered(rt, ctx, route, plan, headers, onCancel);
    // A tenant-enforced read may share its answer (results cache, coalescing); decided before signing,
    // because the cache aligns the request and signing must cover what is really sent.
    const shared = ctx.tenant ? sharedCall(route, ctx.tenant.id, plan, headers) : undefined;
    // What goes upstream, signed as it will be sent (signing may buffer a streamed body and re-encode the query).
    const call: UpstreamCall = shared
      ? { method: shared.method, pathAndQuery: shared.pathAndQuery, headers, body: shared.body }
      : { method: plan.method, pathAndQuery: plan.pathAndQuery, headers, body: plan.body ?? null };
    const signing = route.sign(call);
    if (signing) await signing;
    const refuseAuth = refusesAuth(route);
    if (shared)
      return await sendShared(
        rt,
        ctx,
        route,
        { ...shared, pathAndQuery: call.pathAndQuery },
        headers,
        onCancel,
        refuseAuth,
      );
    await sendStreamed(rt, ctx, route, call, onCancel, refuseAuth);
  } catch (err) {
    upstreamFailed(rt, ctx, route, err);
  } finally {
    ctx.onClose = undefined;
  }
}

/** The answer streamed through as it arrives (not shared, not filtered). */
async function sendStreamed(
  rt: Runtime,
  ctx: RequestContext,
  route: RouteRuntime,
  call: UpstreamCall,
  onCancel: OnCancel,
  refuseAuth: boolean,
): Promise<void> {
  // A query or match read sent as a form may be repeated if its connection fails; other POSTs never are.
  const kind = ctx.endpoint?.endpoint.enforce.kind;
  const idempotent = Buffer.isBuffer(call.body) && (kind === 'query' || kind === 'match');
  const { method, pathAndQuery, headers, body } = call;
  const fr = { method, pathAndQuery, headers, body, onCancel, refuseAuth, idempotent };
  await forwardStream(ctx.upstream ?? route.upstream, fr, ctx.res, answerHead(rt, ctx, route));
}

/** A rewritten body gets its own length and type; a plan without a body sends neither. */
function bodyHeaders(plan: StreamPlan | FilterPlan, headers: UpstreamHeaders): void {
  if (plan.type === 'stream' && Buffer.isBuffer(plan.body)) {
    headers['content-length'] = String(plan.body.length);
    if (plan.contentType) headers['content-type'] = plan.contentType;
  } else if (plan.type !== 'stream' || !plan.body) {
    delete headers['content-length'];
    delete headers['content-type'];
  }
}

/**
 * A client that goes away before the answer is complete cancels the upstream call, also when it leaves
 * before the call starts. The response's one 'close' listener (ctx.onClose) does it: no AbortController.
 */
function cancellation(ctx: RequestContext): OnCancel {
  let cancel: (() => void) | undefined;
  let gone = false;
  ctx.onClose = () => {
    if (ctx.res.writableFinished) return;
    gone = true;
    cancel?.();
  };
  return (c) => {
    cancel = c;
    if (gone) c();
  };
}

/** A failure before the answer began is a coded 502/504; after it began, the client sees a broken response. */
function upstreamFailed(rt: Runtime, ctx: RequestContext, route: RouteRuntime, err: unknown): void {
  const { res } = ctx;
  if (err instanceof GatewayError) throw err;
  if (err instanceof UpstreamRefused) throw refusal(rt, ctx, route, err);
  const failure = classifyUpstreamError(err);
  if (failure === 'aborted' && res.destroyed) return;
  rt.metrics.upstreamError(route.name, failure);
  if (res.headersSent) {
    // Mid-stream failure: never a silently truncated answer that looks complete.
    res.destroy(err as Error);
    return;
  }
  throw upstreamError(failure, route.name, err);
}

interface SharedCall {
  method: 'GET' | 'POST';
  pathAndQuery: string;
  body: Buffer | null;
  /** Results-cache key, when the route caches this call. */
  key?: string;
}

/**
 * How a tenant-enforced request may share its answer: every body-less GET (coalesced), and a query or
 * query_range POST with its form read whole. With the route's results cache, the call is aligned (the
 * aligned form is what goes upstream) and keyed. Anything else (an Alertmanager write) is never shared.
 */
function sharedCall(
  route: RouteRuntime,
  tenantId: string,
  plan: StreamPlan,
  headers: UpstreamHeaders,
): SharedCall | undefined {
  const body = Buffer.isBuffer(plan.body) ? plan.body : plan.body ? undefined : null;
  if (body === undefined) return undefined;
  const method =
    plan.method === 'GET' && body === null ? 'GET' : plan.method === 'POST' && body !== null ? 'POST' : undefined;
  if (!method) return undefined;
  const c = route.resultsCache?.prepare(tenantId, route.name, method, plan.pathAndQuery, headers, body, Date.now());
  if (c) {
    if (c.body) headers['content-length'] = String(c.body.length);
    return { method, pathAndQuery: c.pathAndQuery, body: c.body, key: c.key };
  }
  if (method === 'POST' && !isQueryPath(plan.pathAndQuery)) return undefined;
  return { method, pathAndQuery: plan.pathAndQuery, body };
}

/**
 * Served from the results cache when it holds the call, else identical in-flight calls of the same tenant
 * share one upstream call (whose answer the cache then keeps).
 */
async function sendShared(
  rt: Runtime,
  ctx: RequestContext,
  route: RouteRuntime,
  call: SharedCall,
  headers: UpstreamHeaders,
  onCancel: OnCancel,
  refuseAuth: boolean,
): Promise<void> {
  const onHead = answerHead(rt, ctx, route);
  const cache = route.resultsCache;
  if (call.key !== undefined && cache?.serve(call.key, ctx.res, onHead, Date.now())) return;
  const sink = call.key !== undefined ? cache?.sink(call.key, Date.now) : undefined;
  const shared = {
    tenantId: ctx.tenant!.id,
    route: route.name,
    method: call.method,
    pathAndQuery: call.pathAndQuery,
    body: call.body,
    headers,
    onCancel,
    refuseAuth,
  };
  await (ctx.upstream ?? route.upstream).coalescer.stream(shared, ctx.res, onHead, sink);
}

/** Answers that must be filtered (rules, alerts, targets, Alertmanager reads) are read whole, under a limit. */
async function sendFiltered(
  rt: Runtime,
  ctx: RequestContext,
  route: RouteRuntime,
  plan: FilterPlan,
  headers: UpstreamHeaders,
  onCancel: OnCancel,
): Promise<void> {
  headers['accept-encoding'] = 'identity';
  const call: UpstreamCall = { method: 'GET', pathAndQuery: plan.pathAndQuery, headers, body: null };
  const signing = route.sign(call);
  if (signing) await signing;
  // undici takes an EventEmitter (with `aborted`) as the abort signal; far cheaper than an AbortController.
  const signal = Object.assign(new EventEmitter(), { aborted: false });
  onCancel(() => {
    signal.aborted = true;
    signal.emit('abort');
  });
  const r = await forwardWhole(
    ctx.upstream ?? route.upstream,
    { method: 'GET', pathAndQuery: call.pathAndQuery, headers, signal },
    rt.cfg.server.maxFilteredResponseBytes,
  );
  refused(route, r.status, r.body, r.headers);
  let body: unknown;
  try {
    body = JSON.parse(r.body.toString('utf8'));
  } catch {
    throw new GatewayError('PG_UPSTREAM_BAD_RESPONSE', `upstream answered ${r.status} with a body that is not JSON`);
  }
  sendJson(ctx.res, r.status, plan.filter(body), responseDirectives(rt, ctx, route));
}

/**
 * A 401/403 to a request carrying promgate's own credential (a signer) means the backend refused promgate, not
 * the caller. On generic `http` routes a 403 is the app's own answer to the user, so it is passed through.
 */
function refusesAuth(route: RouteRuntime): boolean {
  return route.signer !== undefined && route.cfg.upstream.type !== 'http';
}

/** A whole (filtered or looked-up) answer that is such a refusal throws UpstreamRefused. */
export function refused(
  route: RouteRuntime,
  status: number,
  body: Buffer,
  headers: Record<string, string | string[] | undefined>,
): void {
  if (!isRefusal(status) || !refusesAuth(route)) return;
  const capture = new RefusalCapture(status, headers);
  capture.data(body);
  throw capture.error();
}

/**
 * The upstream refused promgate's own credentials: the client gets 502 with a code (its request was fine), the
 * log gets the backend's reason with every secret the signer holds replaced.
 */
export function refusal(rt: Runtime, ctx: RequestContext, route: RouteRuntime, err: UpstreamRefused): GatewayError {
  const signer = route.signer;
  const reason = signer ? signer.redact(err.reason) : err.reason;
  rt.logger.error(
    { reqId: ctx.id, route: route.name, upstreamStatus: err.status, reason, auth: signer?.type },
    'upstream refused the signed request',
  );
  rt.metrics.upstreamError(route.name, 'auth_refused');
  return new GatewayError(
    'PG_UPSTREAM_AUTH_REFUSED',
    `upstream ${route.name} refused promgate's credentials (HTTP ${err.status})`,
  );
}

/**
 * Upstream redirects (the Prometheus UI's /graph → /graph/ …) must point back through this route: under its
 * prefix when the upstream saw the path without it, as they are when it saw the whole path. A refreshed
 * session's Set-Cookie joins the upstream's own: writeHead's headers replace what res.setHeader set, so an app
 * setting a cookie in the same answer would otherwise drop the refreshed session. Then the route's response
 * header directives.
 */
function answerHead(rt: Runtime, ctx: RequestContext, route: RouteRuntime) {
  const setCookies = ctx.identity?.setCookies;
  const up = ctx.upstream ?? route.upstream;
  const directives = responseDirectives(rt, ctx, route);
  return (_status: number, headers: Record<string, string | string[] | undefined>) => {
    const loc = headers.location;
    if (typeof loc === 'string') headers.location = rewriteLocation(loc, up, route.stripPrefix ? route.prefix : '/');
    const upstream = headers['set-cookie'];
    if (setCookies && upstream !== undefined)
      headers['set-cookie'] = [...(Array.isArray(upstream) ? upstream : [upstream]), ...setCookies];
    directives?.(headers);
  };
}

/** The route's response header directives for this request, when it has any. */
function responseDirectives(
  rt: Runtime,
  ctx: RequestContext,
  route: RouteRuntime,
): ((headers: Record<string, string | string[] | number | undefined>) => void) | undefined {
  const d = route.directives.response;
  return d && ((headers) => d(templateRequest(rt, ctx), headers));
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  directives?: (headers: Record<string, string | string[] | number | undefined>) => void,
): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[] | number | undefined> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  };
  directives?.(headers);
  headers['content-length'] = Buffer.byteLength(text);
  res.writeHead(status, headers);
  res.end(text);
}
