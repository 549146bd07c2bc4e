// The header, tenant and plan stages: the upstream headers, the caller's tenant, and the exact upstream request (enforced).
import { encodePath, wireBelow } from '../lib/path.js';
import { templateRequest } from './templates.js';
import { upstreamHeaders } from './upstream-headers.js';
import { enforceRequest, type Plan } from '../enforce/request.js';
import { forwardWhole } from '../upstream/forward.js';
import type { UpstreamCall } from '../upstream/signers/index.js';
import type { UpstreamRefused } from '../upstream/refusal.js';
import { refusal, refused } from './send.js';
import type { Matched } from './match.js';
import type { RequestContext, RouteRuntime, Runtime, UpstreamHeaders } from './runtime.js';
import type { Lookup } from '../enforce/plan.js';

/**
 * The path the upstream sees, in the client's own spelling re-serialised segment by segment ("%3B" stays
 * "%3B"), or the rewritten path: below the route prefix (stripPrefix, the default), or the whole path.
 */
function upstreamPath(ctx: RequestContext): string {
  const route = ctx.route!;
  if (ctx.rewritten === undefined) {
    const wire = ctx.wire ?? ctx.path;
    return route.stripPrefix ? wireBelow(wire, route.prefix) : wire;
  }
  return route.stripPrefix || route.prefix === '/' ? ctx.rewritten : encodePath(route.prefix) + ctx.rewritten;
}

function withQuery(path: string, search: string): string {
  return search === '' ? path : `${path}?${search}`;
}

/** Header hygiene (hop-by-hop, spoofed identity and tenant headers), then promgate's own forwarding and identity headers. */
export function prepareHeaders(rt: Runtime, ctx: RequestContext, m: Matched): UpstreamHeaders {
  const headers = upstreamHeaders(ctx.req, ctx.id, rt.trust, m.route.stripHeaders);
  rt.identityHeaders(ctx.identity!, headers);
  m.route.callerCredentials?.(ctx.identity!, ctx.req.headers, headers);
  return headers;
}

/** A request forwarded as it came: a generic app, an unsafe passthrough path, or a public endpoint. */
function asItCame(ctx: RequestContext, m: Matched, withBody: boolean): Plan {
  const { req } = ctx;
  const body = withBody && m.method !== 'GET' && m.method !== 'HEAD' ? req : null;
  return {
    type: 'stream',
    method: m.method,
    pathAndQuery: withQuery(upstreamPath(ctx), ctx.search),
    body,
    contentType: body ? req.headers['content-type'] : undefined,
  };
}

/** The tenant the identity maps to (403 when none) and its tenant header; none for passthrough and public endpoints. */
export function resolveTenant(rt: Runtime, ctx: RequestContext, m: Matched, headers: UpstreamHeaders): void {
  if (m.passthrough || ctx.endpoint!.endpoint.enforce.kind === 'public') return;
  ctx.tenant = m.route.resolveTenant(ctx.identity!);
  m.route.tenantHeaders(ctx.tenant, ctx.identity!, headers);
}

/**
 * The upstream stage: the route's upstream, or the one the identity chooses (403 when its values cannot
 * name one); then the route's request header directives, after hygiene, identity and tenant headers and
 * before signing.
 */
export function chooseUpstream(rt: Runtime, ctx: RequestContext, route: RouteRuntime, headers: UpstreamHeaders): void {
  ctx.upstream = route.router ? route.router.resolve(ctx.identity!) : route.upstream;
  route.directives.request?.(templateRequest(rt, ctx), headers);
}

/**
 * Enforcement: the plan that can only see the tenant's series, within the query limits. Routes without tenants
 * (passthrough, public endpoints) forward as they came.
 */
export async function planRequest(
  rt: Runtime,
  ctx: RequestContext,
  m: Matched,
  headers: UpstreamHeaders,
): Promise<Plan> {
  if (m.passthrough) {
    if (!m.generic)
      rt.logger.warn(
        { reqId: ctx.id, path: ctx.path, user: ctx.identity!.user },
        'unsafe passthrough: forwarded without tenant enforcement',
      );
    return asItCame(ctx, m, true);
  }
  const enforce = ctx.endpoint!.endpoint.enforce;
  if (enforce.kind === 'public') return asItCame(ctx, m, false);
  const route = m.route;
  const lookup = ownerLookup(rt, ctx, route, headers);
  const result = await enforceRequest({
    req: ctx.req,
    method: m.method,
    upstreamPath: upstreamPath(ctx),
    search: ctx.search,
    enforce,
    tenant: ctx.tenant!,
    allowMetadata: route.cfg.allowMetadata,
    maxBodyBytes: rt.cfg.server.maxBodyBytes,
    maxMatchSelectors: rt.cfg.server.maxMatchSelectors,
    enforcer: route.enforcer,
    lookup,
    dotMode: route.dotMode.current(),
    backend: route.kind === 'victoriametrics' ? 'victoriametrics' : 'prometheus',
    queryLimits: enforce.kind === 'query' || enforce.kind === 'match' ? route.queryLimits(ctx) : undefined,
  });
  ctx.logQuery = result.logQuery;
  return result.plan;
}

/** Alertmanager silence ownership reads the silence from the same upstream, with the caller's upstream headers, signed. */
function ownerLookup(rt: Runtime, ctx: RequestContext, route: RouteRuntime, headers: UpstreamHeaders): Lookup {
  return async (pathAndQuery: string) => {
    // Ownership look-ups (an Alertmanager silence) are signed like the request itself.
    const call: UpstreamCall = {
      method: 'GET',
      pathAndQuery,
      headers: { ...headers, 'accept-encoding': 'identity', accept: 'application/json' },
      body: null,
    };
    const signing = route.sign(call);
    if (signing) await signing;
    const r = await forwardWhole(
      ctx.upstream ?? route.upstream,
      { method: 'GET', pathAndQuery: call.pathAndQuery, headers: call.headers },
      rt.cfg.server.maxFilteredResponseBytes,
    );
    try {
      refused(route, r.status, r.body, r.headers);
    } catch (e) {
      throw refusal(rt, ctx, route, e as UpstreamRefused);
    }
    let json: unknown = null;
    try {
      json = JSON.parse(r.body.toString('utf8'));
    } catch {
      // a non-JSON answer is handled by the caller through the status code
    }
    return { status: r.status, json };
  };
}
