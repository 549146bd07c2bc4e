// What the portal shows one person: who they are, and each route they may open with its tenant and health.
import type { Identity } from '../authn/identity.js';
import { authorize } from '../authz/rules.js';
import type { RouteRuntime, Runtime } from '../pipeline/runtime.js';
import { formatMatcher, tenantMatchers, type Tenant } from '../tenancy/tenant.js';

/** The readiness probe's last answer for a route (server/readiness.ts), by route name. */
export interface RouteHealth {
  route: string;
  up: boolean;
  detail: string;
}

export interface PortalRoute {
  name: string;
  description?: string;
  link: string;
  /** The caller's tenant on this route: matchers, "all series", or refused; `null` for a `type: http` app. */
  tenant: { unrestricted: boolean; matchers: string[] } | { refused: true } | null;
  /** The readiness probe: up, down, or unknown before the first probe. */
  health: { state: 'up' | 'down' | 'unknown'; detail: string };
  /** The upstream's circuit breaker, when the route has one. */
  circuit?: 'closed' | 'open' | 'half-open';
}

export interface PortalView {
  title: string;
  user: { user: string; email?: string; groups: string[]; method: string };
  /** Where to sign out (oauth2-proxy's /oauth2/sign_out), for a sign-in session. */
  signOut?: string;
  routes: PortalRoute[];
}

/** The caller's tenant on a route: the route's own `tenants` policy, or the global one (as the pipeline resolves it). */
export function tenantOf(route: RouteRuntime, id: Identity): Tenant | undefined {
  try {
    return route.resolveTenant(id);
  } catch {
    return undefined;
  }
}

/** The same decision the pipeline's identify stage makes: the route accepts this method, and authorize() passes. */
export function mayOpen(route: RouteRuntime, id: Identity): boolean {
  if (!route.auth.authenticators.some((a) => a.method === id.method)) return false;
  try {
    authorize(route.cfg, id);
    return true;
  } catch {
    return false;
  }
}

export function linkOf(route: RouteRuntime): string {
  return route.cfg.link ?? (route.prefix === '/' ? '/' : `${route.prefix}/`);
}

function tenantView(rt: Runtime, route: RouteRuntime, id: Identity): PortalRoute['tenant'] {
  if (route.cfg.upstream.type === 'http') return null;
  const t = tenantOf(route, id);
  if (!t) return { refused: true };
  if (t.unrestricted) return { unrestricted: true, matchers: [] };
  return { unrestricted: false, matchers: tenantMatchers(t).map(formatMatcher) };
}

export function buildView(
  rt: Runtime,
  id: Identity,
  health: readonly RouteHealth[],
  opts: { title: string; signOut?: string },
): PortalView {
  const byName = new Map(health.map((h) => [h.route, h]));
  const order = (r: RouteRuntime) => rt.cfg.routes.indexOf(r.cfg);
  const routes = [...rt.routes.all()]
    .filter((r) => !r.cfg.hidden && mayOpen(r, id))
    .sort((a, b) => order(a) - order(b))
    .map((r): PortalRoute => {
      const h = byName.get(r.name);
      return {
        name: r.name,
        ...(r.cfg.description !== undefined ? { description: r.cfg.description } : {}),
        link: linkOf(r),
        tenant: tenantView(rt, r, id),
        health: h ? { state: h.up ? 'up' : 'down', detail: h.detail } : { state: 'unknown', detail: 'not probed yet' },
        ...(r.upstream.breaker ? { circuit: r.upstream.breaker.state() } : {}),
      };
    });
  return {
    title: opts.title,
    user: {
      user: id.user,
      ...(id.email !== undefined ? { email: id.email } : {}),
      groups: [...id.groups],
      method: id.method,
    },
    ...(opts.signOut !== undefined && id.method === 'session' ? { signOut: opts.signOut } : {}),
    routes,
  };
}
