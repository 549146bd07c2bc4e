// Builds everything a request needs from one frozen Config; a reload builds a new Runtime and swaps it in whole.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Authenticator, Identity } from '../authn/identity.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { RequestContext } from '../pipeline/context.js';
import { RouteTable, compileRoute, type CompiledRoute } from '../routes/table.js';
import { createUpstream, type Upstream } from '../upstream/pool.js';
import { createProxyTrust, type ProxyTrust } from './trusted-proxies.js';
import { authenticate as runChain, type AuthChain } from '../pipeline/authenticate.js';
import { createPromqlEnforcer } from '../enforce/promql.js';
import type { QueryEnforcer } from '../enforce/params.js';
import { createBasicAuthenticator } from '../authn/basic.js';
import { createJwtAuthenticator } from '../authn/jwt.js';
import { createTenantResolver } from '../tenancy/policy.js';
import { createTenantHeader } from '../tenancy/tenant-header.js';
import { normalizeHeaderName } from '../upstream/headers.js';
import { createSigner, type Signer } from '../upstream/signers/index.js';
import { wireOidc } from './oidc-wiring.js';
import type { OAuth2Endpoints } from '../forward-auth/endpoints.js';
import { upstreamIdentityHeaders } from '../forward-auth/headers.js';
import { createSkipAuthMatcher, type SkipAuthMatcher } from '../forward-auth/skip-auth.js';
import { stripSessionCookies } from '../authn/session/strip.js';
import { buildLimits, LimitsState, type RuntimeLimits } from '../limits/limits.js';

export interface Runtime {
  readonly cfg: Config;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly routes: RouteTable;
  readonly chains: ReadonlyMap<CompiledRoute, AuthChain>;
  readonly authenticators: readonly Authenticator[];
  readonly tenants: { resolve(id: Identity): Tenant; limitRule(id: Identity): number };
  /** Rate, concurrency and query limits, built once per route. */
  readonly limits: RuntimeLimits;
  enforcerFor(route: CompiledRoute): QueryEnforcer;
  readonly trust: ProxyTrust;
  readonly stripHeaders: ReadonlyMap<CompiledRoute, ReadonlySet<string>>;
  /** The /oauth2 endpoints when OIDC sign-in is configured. */
  readonly oauth?: OAuth2Endpoints;
  /** oauth2-proxy skip-auth-route rules: matching requests skip authentication. */
  readonly skipAuth?: SkipAuthMatcher;
  /** Identity headers for the upstream (X-Forwarded-User…, pass-access-token, pass-authorization-header). */
  identityHeaders(id: Identity, headers: Record<string, string | string[]>): void;
  /** Gateway-owned endpoints (health, readiness, metrics, sign-in); true when handled. */
  own?: (ctx: RequestContext) => Promise<boolean> | boolean;
  authenticate(chain: AuthChain, ctx: RequestContext, route: CompiledRoute): Identity | Promise<Identity>;
  addTenantHeaders(route: CompiledRoute, tenant: Tenant, id: Identity, headers: Record<string, string | string[]>): void;
  /** Adds upstream credentials; always the last header change before sending. A promise only when signing must wait. */
  sign(route: CompiledRoute, method: string, pathAndQuery: string, headers: Record<string, string | string[]>, body: unknown): Promise<void> | void;
  /** Pool keys this runtime uses (the server closes pools no runtime uses any more). */
  readonly poolKeys: ReadonlySet<string>;
  close(): Promise<void>;
}

export interface RuntimeDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** Pools kept across reloads, keyed by their upstream settings, so a reload does not drop warm connections. */
  pools: Map<string, Upstream>;
  /** Limiter state kept across reloads (buckets, in-flight counts, the Redis connection); one per process. */
  limits?: LimitsState;
}

export function buildRuntime(cfg: Config, deps: RuntimeDeps): Runtime {
  const byMethod = new Map<string, Authenticator>();
  try {
    return assemble(cfg, deps, byMethod);
  } catch (e) {
    // A refused build (a bad users file on reload, say) must not leave the watchers and timers of the
    // authenticators it had already made running beside the runtime that keeps serving.
    for (const a of byMethod.values()) void Promise.resolve(a.close?.()).catch(() => undefined);
    throw e;
  }
}

function assemble(cfg: Config, deps: RuntimeDeps, byMethod: Map<string, Authenticator>): Runtime {
  const { logger, metrics } = deps;
  const onReload = (source: string, ok: boolean, reason?: string) => {
    metrics.reload(source, ok);
    if (!ok) logger.error({ source, reason }, 'reload refused; keeping the previous version');
    else logger.info({ source }, 'reloaded');
  };
  const authDeps = { logger, onReload };
  const trust = createProxyTrust(cfg.server.trustedProxies);
  const oidc = wireOidc(cfg, { logger, trust, onReload });
  if (oidc) byMethod.set('session', oidc.session);
  // With skip-jwt-bearer-tokens the bearer authenticator also carries auth.jwt's own keys and issuers.
  if (oidc?.bearer) byMethod.set('jwt', oidc.bearer);
  else if (cfg.auth.jwt) byMethod.set('jwt', createJwtAuthenticator(cfg.auth.jwt, authDeps));
  if (cfg.auth.basic) byMethod.set('basic', createBasicAuthenticator(cfg.auth.basic, authDeps));
  const oidcCfg = cfg.auth.oidc;
  const cookiePrefix = oidcCfg?.cookie.name;

  const limitState = deps.limits ?? new LimitsState();
  const usedPools = new Set<string>();
  const routes: CompiledRoute[] = cfg.routes.map((r) => {
    const key = JSON.stringify(r.upstream);
    let up = deps.pools.get(key);
    if (!up) deps.pools.set(key, (up = createUpstream(r.upstream, { clock: limitState.clock, logger, onRetry: (u) => metrics.upstreamRetry(u) })));
    usedPools.add(key);
    return compileRoute(r, up, (hit) => metrics.cache('results', hit));
  });
  const chains = new Map<CompiledRoute, AuthChain>();
  const strip = new Map<CompiledRoute, ReadonlySet<string>>();
  const tenantHeaders = new Map<CompiledRoute, ReturnType<typeof createTenantHeader>>();
  const signers = new Map<CompiledRoute, Signer>();
  for (const route of routes) {
    const methods = route.cfg.authMethods ?? ['session', 'jwt', 'basic', 'anonymous'];
    const authenticators = methods.flatMap((m) => (byMethod.has(m) ? [byMethod.get(m)!] : []));
    const anonymous = cfg.auth.anonymous && methods.includes('anonymous');
    const challenge = authenticators.some((a) => a.method === 'basic')
      ? `Basic realm="${cfg.auth.basic?.realm ?? 'promgate'}", charset="UTF-8"`
      : authenticators.some((a) => a.method === 'jwt') ? 'Bearer' : undefined;
    chains.set(route, { authenticators, anonymous, challenge });
    const signer = createSigner(route.cfg.upstream);
    if (signer) signers.set(route, signer);
    const th = route.cfg.upstream.tenantHeader;
    if (th) {
      tenantHeaders.set(route, createTenantHeader({ ...th, template: th.template ?? `{{values.${cfg.tenants.namespaceLabel}}}` }));
      strip.set(route, new Set([normalizeHeaderName(th.name)]));
    }
  }
  const claimNames = { namespaces: cfg.auth.jwt?.namespacesClaim ?? 'namespaces', labels: cfg.auth.jwt?.labelsClaim ?? 'labels' };
  const tenants = createTenantResolver(cfg.tenants, { logger, claimNames });
  const authenticators = [...byMethod.values()];
  const limits = buildLimits(cfg, routes, { logger, metrics, trust, limitRule: (id) => tenants.limitRule(id), state: limitState });
  const enforcer = createPromqlEnforcer({ maxQueryLength: cfg.server.maxQueryLength });
  const strictEnforcer = createPromqlEnforcer({ maxQueryLength: cfg.server.maxQueryLength, errorOnConflict: true });

  return {
    cfg,
    logger,
    metrics,
    routes: new RouteTable(routes),
    chains,
    authenticators,
    tenants,
    limits,
    enforcerFor: (route) => (route.cfg.errorOnConflict ? strictEnforcer : enforcer),
    trust,
    oauth: oidc?.endpoints,
    skipAuth: oidcCfg && oidcCfg.skipAuthRoutes.length > 0 ? createSkipAuthMatcher(oidcCfg.skipAuthRoutes) : undefined,
    identityHeaders(id, headers) {
      // promgate's own cookies never reach the upstream: they carry sealed tokens the backend has no use for.
      if (cookiePrefix && typeof headers.cookie === 'string') {
        const kept = stripSessionCookies(headers.cookie, cookiePrefix);
        if (kept === '') delete headers.cookie;
        else headers.cookie = kept;
      }
      if (oidcCfg && id.method !== 'anonymous') Object.assign(headers, upstreamIdentityHeaders(id, oidcCfg));
    },
    stripHeaders: strip,
    authenticate: (chain, ctx) => runChain(chain, { headers: ctx.req.headers, path: ctx.path }),
    addTenantHeaders(route, tenant, id, headers) {
      const fn = tenantHeaders.get(route);
      if (!fn) return;
      const v = fn(tenant, id);
      if (v !== '') headers[route.cfg.upstream.tenantHeader!.name.toLowerCase()] = v;
    },
    sign: (route, _method, _path, headers) => {
      signers.get(route)?.(headers);
    },
    poolKeys: usedPools,
    async close() {
      await Promise.allSettled(authenticators.map(async (a) => a.close?.()));
    },
  };
}
