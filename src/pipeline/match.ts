// The match stages: which route owns the path, which endpoint of the route's table it is, and whether it needs a caller.
import { GatewayError } from '../errors.js';
import { matchEndpoint } from '../enforce/endpoints.js';
import { isProtectedPath } from '../routes/table.js';
import { encodePath, parseTarget } from '../lib/path.js';
import type { RequestContext } from './runtime.js';
import type { Runtime, RouteRuntime } from './runtime.js';

/** What the match stages decided about a request, beyond what they wrote into the context. */
export interface Matched {
  route: RouteRuntime;
  method: string;
  /** Served without authentication (an unprotected path or a skip-auth rule). */
  unprotected: boolean;
  /** Forwarded without the endpoint table: a `type: http` app, or an operator's unsafePassthroughPaths. */
  passthrough: boolean;
  /** A `type: http` route: any web app behind sign-in. */
  generic: boolean;
}

/** Route match: the longest prefix, then the path below it with the route's apiPrefix taken off. */
export function matchRoute(rt: Runtime, ctx: RequestContext): RouteRuntime {
  const m = rt.routes.match(ctx.path);
  if (!m) throw new GatewayError('PG_NO_ROUTE', `no route serves ${ctx.path}`);
  const api = m.route.cfg.apiPrefix;
  ctx.route = m.route;
  const rel = m.route.rewrite ? rewritten(ctx, m.route.rewrite, m.rel) : m.rel;
  ctx.rel = rel;
  ctx.apiPath = api !== '' && (rel === api || rel.startsWith(api + '/')) ? rel.slice(api.length) || '/' : rel;
  return m.route;
}

/**
 * The route's rewrite, before the endpoint table reads the path: what the enforcer checks is the rewritten
 * path, and that is what is forwarded. The result is read like a client's path (no dot segments, no empty
 * segments, no encoded slashes), so a replacement cannot produce a path promgate would refuse from a client.
 */
function rewritten(ctx: RequestContext, rewrite: (rel: string) => string, rel: string): string {
  const out = rewrite(rel);
  if (out === rel) return rel;
  if (!out.startsWith('/'))
    throw new GatewayError('PG_BAD_REQUEST', `the route's rewrite turned ${rel} into "${out}", which is not a path`);
  const t = parseTarget(encodePath(out));
  ctx.rewritten = t.wire ?? t.path;
  return t.path;
}

/** Endpoint match: protected paths, then the endpoint table (404 off the table, 405 for a method it does not list). */
export function matchEndpointStage(rt: Runtime, ctx: RequestContext, route: RouteRuntime): Matched {
  const method = ctx.req.method ?? 'GET';
  if (route.methods && !route.methods.has(method))
    throw new GatewayError('PG_METHOD_NOT_ALLOWED', `${method} is not allowed on this route`, {
      headers: { allow: [...route.methods].join(', ') },
    });
  const apiPath = ctx.apiPath!;
  const unprotected =
    route.unprotected.has(apiPath) || route.unprotected.has(ctx.rel!) || (rt.skipAuth?.(method, ctx.path) ?? false);
  if (!unprotected && !isProtectedPath(route, apiPath)) {
    // No WWW-Authenticate here: a browser or Grafana must not prompt for credentials on a path we never serve.
    throw new GatewayError('PG_PATH_NOT_PROTECTED', `${apiPath} is not among this route's protected endpoints`);
  }
  const generic = route.cfg.upstream.type === 'http';
  const passthrough = generic || route.passthrough.has(apiPath);
  if (!passthrough) {
    const endpoint = matchEndpoint(route.kind, apiPath);
    if (!endpoint) throw new GatewayError('PG_NOT_FOUND', `${apiPath} is not a served ${route.kind} endpoint`);
    const allowed = endpoint.endpoint.methods;
    if (!allowed.includes(method))
      throw new GatewayError('PG_METHOD_NOT_ALLOWED', `${method} is not allowed on ${apiPath}`, {
        headers: { allow: allowed.join(', ') },
      });
    ctx.endpoint = endpoint;
  }
  return { route, method, unprotected, passthrough, generic };
}
