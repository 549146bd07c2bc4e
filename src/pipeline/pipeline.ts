// The request pipeline, and the only place that knows the stage order:
// route match → authenticate → authorize → tenant → admit (rate, concurrency) → enforce (+ query limits) → upstream → response.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, renderError, toGatewayError, wantsJson } from '../errors.js';
import type { RequestContext } from './context.js';
import { parseTarget, encodePath } from './path.js';
import { matchEndpoint } from '../enforce/endpoints.js';
import { isProtectedPath } from '../routes/table.js';
import { refusingMethod } from './authenticate.js';
import { authorize } from '../authz/rules.js';
import { enforceRequest, type Plan } from '../enforce/request.js';
import { upstreamHeaders } from './upstream-headers.js';
import { forwardStream, forwardWhole, classifyUpstreamError, upstreamError } from '../upstream/forward.js';
import type { Runtime } from '../server/runtime.js';
import { ANONYMOUS } from '../authn/anonymous.js';
import { logAccess, nextRequestId } from './access-log.js';
import { rewriteLocation } from '../upstream/location.js';
import type { CompiledRoute } from '../routes/table.js';
import { isQueryPath } from '../upstream/results-cache.js';

/** `onDone` runs when each response closes (the server's in-flight count). */
export function createPipeline(current: () => Runtime, onDone?: () => void) {
  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const rt = current();
    const ctx: RequestContext = { req, res, id: nextRequestId(req), start: performance.now(), path: '', search: '' };
    // One 'close' listener per request: in-flight count, access log, and the upstream abort while a call runs.
    res.once('close', () => {
      onDone?.();
      logAccess(rt, ctx);
      ctx.onClose?.();
      ctx.release?.();
    });
    run(rt, ctx).catch((err: unknown) => fail(rt, ctx, err));
  };
}

async function run(rt: Runtime, ctx: RequestContext): Promise<void> {
  const { req } = ctx;
  const target = parseTarget(req.url);
  ctx.path = target.path;
  ctx.search = target.search;
  if (rt.own) {
    // Most requests are not for promgate's own endpoints; a plain `false` needs no await.
    const own = rt.own(ctx);
    if (own === true || (own !== false && (await own))) return;
  }

  const m = rt.routes.match(ctx.path);
  if (!m) throw new GatewayError('PG_NO_ROUTE', `no route serves ${ctx.path}`);
  const route = m.route;
  ctx.route = route;
  ctx.rel = m.rel;
  const api = route.cfg.apiPrefix;
  ctx.apiPath = api !== '' && (m.rel === api || m.rel.startsWith(api + '/')) ? m.rel.slice(api.length) || '/' : m.rel;

  const method = req.method ?? 'GET';
  const unprotected = route.unprotected.has(ctx.apiPath) || route.unprotected.has(m.rel) || (rt.skipAuth?.(method, ctx.path) ?? false);
  if (!unprotected && !isProtectedPath(route, ctx.apiPath)) {
    // No WWW-Authenticate here: a browser or Grafana must not prompt for credentials on a path we never serve.
    throw new GatewayError('PG_PATH_NOT_PROTECTED', `${ctx.apiPath} is not among this route's protected endpoints`);
  }
  // Generic HTTP apps behind sign-in (oauth2-proxy's --upstream): no endpoint table, no tenant.
  const generic = route.cfg.upstream.type === 'http';
  const passthrough = generic || route.passthrough.has(ctx.apiPath);
  const endpoint = passthrough ? undefined : matchEndpoint(route.kind, ctx.apiPath);
  if (!passthrough) {
    if (!endpoint) throw new GatewayError('PG_NOT_FOUND', `${ctx.apiPath} is not a served ${route.kind} endpoint`);
    if (!endpoint.endpoint.methods.includes(method)) throw new GatewayError('PG_METHOD_NOT_ALLOWED', `${method} is not allowed on ${ctx.apiPath}`, { headers: { allow: endpoint.endpoint.methods.join(', ') } });
    ctx.endpoint = endpoint;
  }

  const chain = rt.chains.get(route)!;
  if (unprotected) ctx.identity = ANONYMOUS;
  else {
    try {
      const id = rt.authenticate(chain, ctx, route);
      ctx.identity = id instanceof Promise ? await id : id;
    } catch (e) {
      // A route that signs browsers in answers "no session" with a login redirect (or 401 JSON for API callers).
      if (rt.oauth && chain.authenticators.some((a) => a.method === 'session') && e instanceof GatewayError && (e.code === 'PG_AUTHN_REQUIRED' || e.code === 'PG_AUTHN_TOKEN_EXPIRED')) {
        ctx.errorCode = e.code;
        rt.metrics.authFailure('session', e.code);
        rt.oauth.unauthenticated(req, ctx.res, new URL(req.url ?? '/', 'http://promgate'));
        return;
      }
      throw e;
    }
    authorize(route.cfg, ctx.identity);
  }

  const upstreamPath = encodePath(m.rel);
  const headers = upstreamHeaders(req, ctx.id, rt.trust, rt.stripHeaders.get(route));
  rt.identityHeaders(ctx.identity, headers);
  if (passthrough) {
    if (!generic) rt.logger.warn({ reqId: ctx.id, path: ctx.path, user: ctx.identity.user }, 'unsafe passthrough: forwarded without tenant enforcement');
    const admitted = rt.limits.admit(route, ctx);
    if (admitted) await admitted;
    return execute(rt, ctx, { type: 'stream', method, pathAndQuery: withQuery(upstreamPath, ctx.search), body: method === 'GET' || method === 'HEAD' ? null : req, contentType: req.headers['content-type'] }, headers);
  }
  const enforce = endpoint!.endpoint.enforce;
  if (enforce.kind === 'public') {
    const admitted = rt.limits.admit(route, ctx);
    if (admitted) await admitted;
    return execute(rt, ctx, { type: 'stream', method, pathAndQuery: withQuery(upstreamPath, ctx.search), body: null }, headers);
  }
  ctx.tenant = rt.tenants.resolve(ctx.identity);
  // Rate limit and concurrency slot, once the caller and its tenant are known.
  const admitted = rt.limits.admit(route, ctx);
  if (admitted) await admitted;
  rt.addTenantHeaders(route, ctx.tenant, ctx.identity, headers);
  const lookup = async (pathAndQuery: string) => {
    const r = await forwardWhole(route.upstream, { method: 'GET', pathAndQuery, headers: { ...headers, 'accept-encoding': 'identity', accept: 'application/json' } }, rt.cfg.server.maxFilteredResponseBytes);
    let json: unknown = null;
    try {
      json = JSON.parse(r.body.toString('utf8'));
    } catch {
      // a non-JSON answer is handled by the caller through the status code
    }
    return { status: r.status, json };
  };
  const result = await enforceRequest({
    req, method, upstreamPath, search: ctx.search, enforce, tenant: ctx.tenant,
    allowMetadata: route.cfg.allowMetadata, maxBodyBytes: rt.cfg.server.maxBodyBytes, enforcer: rt.enforcerFor(route), lookup,
    queryLimits: enforce.kind === 'query' || enforce.kind === 'match' ? rt.limits.queryLimits(route, ctx) : undefined,
  });
  ctx.logQuery = result.logQuery;
  return execute(rt, ctx, result.plan, headers);
}

function withQuery(path: string, search: string): string {
  return search === '' ? path : `${path}?${search}`;
}

async function execute(rt: Runtime, ctx: RequestContext, plan: Plan, headers: Record<string, string | string[]>): Promise<void> {
  const { res } = ctx;
  const route = ctx.route!;
  if (ctx.identity?.setCookies) res.setHeader('set-cookie', ctx.identity.setCookies);
  if (plan.type === 'json') {
    sendJson(res, plan.status, plan.body);
    return;
  }
  if (plan.type === 'stream' && Buffer.isBuffer(plan.body)) {
    headers['content-length'] = String(plan.body.length);
    if (plan.contentType) headers['content-type'] = plan.contentType;
  } else if (plan.type !== 'stream' || !plan.body) {
    delete headers['content-length'];
    delete headers['content-type'];
  }
  // A client that goes away before the answer is complete cancels the upstream call, also when it leaves
  // before the call starts. The response's one 'close' listener (ctx.onClose) does it: no AbortController.
  let cancel: (() => void) | undefined;
  let gone = false;
  ctx.onClose = () => {
    if (res.writableFinished) return;
    gone = true;
    cancel?.();
  };
  const onCancel = (c: () => void) => {
    cancel = c;
    if (gone) c();
  };
  try {
    // A tenant-enforced read may share its answer (results cache, coalescing); decided before signing,
    // because the cache aligns the request and signing must cover what is really sent.
    const call = plan.type === 'stream' && ctx.tenant ? sharedCall(route, ctx.tenant.id, plan, headers) : undefined;
    const signing = call
      ? rt.sign(route, call.method, call.pathAndQuery, headers, call.body)
      : rt.sign(route, plan.method, plan.pathAndQuery, headers, plan.type === 'stream' ? plan.body : null);
    if (signing) await signing;
    if (plan.type === 'stream') {
      const onHead = fixLocation(route, ctx.identity?.setCookies);
      if (call) {
        // Served from the results cache when it holds the call, else identical in-flight calls of the same
        // tenant share one upstream call (whose answer the cache then keeps).
        const cache = route.resultsCache;
        if (call.key !== undefined && cache?.serve(call.key, res, onHead, Date.now())) return;
        const sink = call.key !== undefined ? cache?.sink(call.key, Date.now) : undefined;
        await route.upstream.coalescer.stream({ tenantId: ctx.tenant!.id, route: route.name, method: call.method, pathAndQuery: call.pathAndQuery, body: call.body, headers, onCancel }, res, onHead, sink);
        return;
      }
      // A query or match read sent as a form may be repeated if its connection fails; other POSTs never are.
      const kind = ctx.endpoint?.endpoint.enforce.kind;
      const idempotent = Buffer.isBuffer(plan.body) && (kind === 'query' || kind === 'match');
      await forwardStream(route.upstream, { method: plan.method, pathAndQuery: plan.pathAndQuery, headers, body: plan.body, onCancel, idempotent }, res, onHead);
      return;
    }
    headers['accept-encoding'] = 'identity';
    // undici takes an EventEmitter (with `aborted`) as the abort signal; far cheaper than an AbortController.
    const signal = Object.assign(new EventEmitter(), { aborted: false });
    onCancel(() => {
      signal.aborted = true;
      signal.emit('abort');
    });
    const r = await forwardWhole(route.upstream, { method: 'GET', pathAndQuery: plan.pathAndQuery, headers, signal }, rt.cfg.server.maxFilteredResponseBytes);
    let body: unknown;
    try {
      body = JSON.parse(r.body.toString('utf8'));
    } catch {
      throw new GatewayError('PG_UPSTREAM_BAD_RESPONSE', `upstream answered ${r.status} with a body that is not JSON`);
    }
    sendJson(res, r.status, plan.filter(body));
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    const failure = classifyUpstreamError(err);
    if (failure === 'aborted' && res.destroyed) return;
    rt.metrics.upstreamError(route.name, failure);
    if (res.headersSent) {
      // Mid-stream failure: the client must see a broken response, never a silently truncated one.
      res.destroy(err as Error);
      return;
    }
    throw upstreamError(failure, route.name, err);
  } finally {
    ctx.onClose = undefined;
  }
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
function sharedCall(route: CompiledRoute, tenantId: string, plan: Extract<Plan, { type: 'stream' }>, headers: Record<string, string | string[]>): SharedCall | undefined {
  const body = Buffer.isBuffer(plan.body) ? plan.body : plan.body ? undefined : null;
  if (body === undefined) return undefined;
  const method = plan.method === 'GET' && body === null ? 'GET' : plan.method === 'POST' && body !== null ? 'POST' : undefined;
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
 * Upstream redirects (the Prometheus UI's /graph → /graph/ …) must point back through this route. A refreshed
 * session's Set-Cookie joins the upstream's own: writeHead's headers replace what res.setHeader set, so an app
 * setting a cookie in the same answer would otherwise drop the refreshed session.
 */
function fixLocation(route: CompiledRoute, setCookies?: readonly string[]) {
  return (_status: number, headers: Record<string, string | string[] | undefined>) => {
    const loc = headers.location;
    if (typeof loc === 'string') headers.location = rewriteLocation(loc, route.upstream, route.prefix);
    const upstream = headers['set-cookie'];
    if (setCookies && upstream !== undefined) headers['set-cookie'] = [...(Array.isArray(upstream) ? upstream : [upstream]), ...setCookies];
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function fail(rt: Runtime, ctx: RequestContext, err: unknown): void {
  const ge = toGatewayError(err);
  if (ge.code === 'PG_INTERNAL') rt.logger.error({ reqId: ctx.id, err }, 'internal error');
  if (ge.status === 401) rt.metrics.authFailure(ctx.identity?.method ?? refusingMethod(err), ge.code);
  ctx.errorCode = ge.code;
  // A queued request whose client left is not a refusal anyone saw.
  if (!ctx.res.destroyed) rt.limits.rejected(ctx, ge.code);
  if (ctx.req.readableEnded === false && !ctx.req.destroyed) ctx.req.resume();
  renderError(ctx.res, ge, wantsJson(ctx.path || '/api/', ctx.req.headers.accept));
}
