// Builds everything a request needs from one frozen Config; a reload builds a new Runtime and swaps it in whole.
import { buildLimits, LimitsState, type RuntimeLimits } from '../limits/limits.js';
import type { Config, RouteConfig } from '../config/schema.js';
import { identityRouted, tenantHeaderTemplate } from '../config/derived.js';
import { isTemplate } from '../lib/template.js';
import { createUpstreamRouter, placeholderUrl, type UpstreamRouter } from '../upstream/identity-upstream.js';
import { compileDirectives } from '../upstream/directives.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Authenticator } from '../authn/identity.js';
import type { Runtime, RouteRuntime } from '../pipeline/runtime.js';
import { RouteTable, compileRoute, type CompiledRoute } from '../routes/table.js';
import { createUpstream, type Upstream } from '../upstream/pool.js';
import { createProxyTrust } from '../lib/trusted-proxies.js';
import { createPromqlEnforcer } from '../enforce/promql/index.js';
import type { QueryEnforcer } from '../enforce/params.js';
import { createBasicAuthenticator } from '../authn/basic.js';
import { createCertAuthenticator } from '../authn/cert.js';
import { createTenantResolver, type TenantResolver, type TenantResolverDeps } from '../tenancy/policy.js';
import { createTenantHeader } from '../tenancy/tenant-header.js';
import { normalizeHeaderName } from '../upstream/headers.js';
import { createSigner, signCall, type UpstreamSigner } from '../upstream/signers/index.js';
import { callerAuthorization } from '../upstream/signers/passthrough.js';
import { need } from './features.js';
import { preflight } from './preflight.js';
import { ConfigError } from '../config/errors.js';
import { upstreamIdentityHeaders } from '../signin/headers.js';
import { createSkipAuthMatcher } from '../signin/skip-auth.js';
import { stripSessionCookies } from '../authn/session/strip.js';

export type { Runtime } from '../pipeline/runtime.js';

export interface RuntimeDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** Pools kept across reloads, keyed by their upstream settings, so a reload does not drop warm connections. */
  pools: Map<string, Upstream>;
  /** Limiter state kept across reloads (buckets, in-flight counts, the Redis connection); one per process. */
  limits?: LimitsState;
}

export function buildRuntime(cfg: Config, deps: RuntimeDeps): Runtime {
  // Everything a factory below would refuse, at once and with key paths, before anything is opened.
  const problems = preflight(cfg);
  if (problems.length > 0) throw ConfigError.of(problems);
  const byMethod = new Map<string, Authenticator>();
  const signers: UpstreamSigner[] = [];
  try {
    return assemble(cfg, deps, byMethod, signers);
  } catch (e) {
    // A refused build (a bad users file on reload, say) must not leave the watchers and timers of the
    // authenticators and credential refreshers it had already made running beside the runtime that keeps serving.
    for (const a of byMethod.values()) void Promise.resolve(a.close?.()).catch(() => undefined);
    for (const s of signers) s.close?.();
    throw e;
  }
}

function assemble(
  cfg: Config,
  deps: RuntimeDeps,
  byMethod: Map<string, Authenticator>,
  signers: UpstreamSigner[],
): Runtime {
  const { logger, metrics } = deps;
  const onReload = (source: string, ok: boolean, reason?: string) => {
    metrics.reload(source, ok);
    if (!ok) logger.error({ source, reason }, 'reload refused; keeping the previous version');
    else logger.info({ source }, 'reloaded');
  };
  const authDeps = { logger, onReload };
  const trust = createProxyTrust(cfg.server.trustedProxies);
  const oidc = cfg.auth.oidc ? need('oidc').wireOidc(cfg, { logger, trust, onReload }) : undefined;
  if (cfg.server.tls?.clientCaFile) byMethod.set('cert', createCertAuthenticator());
  if (oidc) byMethod.set('session', oidc.session);
  // With skip-jwt-bearer-tokens the bearer authenticator also carries auth.jwt's own keys and issuers.
  if (oidc?.bearer) byMethod.set('jwt', oidc.bearer);
  else if (cfg.auth.jwt) byMethod.set('jwt', need('jwt').createJwtAuthenticator(cfg.auth.jwt, authDeps));
  if (cfg.auth.basic) byMethod.set('basic', createBasicAuthenticator(cfg.auth.basic, authDeps));
  const oidcCfg = cfg.auth.oidc;
  const cookiePrefix = oidcCfg?.cookie.name;

  const usedPools = new Set<string>();
  const maxQueryLength = cfg.server.maxQueryLength;
  const enforcers: Enforcers = {
    lenient: createPromqlEnforcer({ maxQueryLength }),
    strict: createPromqlEnforcer({ maxQueryLength, errorOnConflict: true }),
    // VictoriaMetrics routes: PromQL that MetricsQL would tokenize differently is refused (enforce/promql/rewrite.ts).
    vmLenient: createPromqlEnforcer({ maxQueryLength, refuseRawBackslash: true }),
    vmStrict: createPromqlEnforcer({ maxQueryLength, errorOnConflict: true, refuseRawBackslash: true }),
  };
  const limitState = deps.limits ?? new LimitsState();
  const routers = new Map<RouteConfig, UpstreamRouter>();
  const compiled = cfg.routes.map((r) => {
    const key = JSON.stringify(r.upstream);
    const upstreamDeps = {
      clock: limitState.clock,
      logger,
      onRetry: (u: string) => metrics.upstreamRetry(u),
      onReload: tlsReloaded(r.upstream.url, deps),
    };
    const templated = isTemplate(r.upstream.url);
    let up = deps.pools.get(key);
    if (!up) {
      // A templated default URL has no host of its own: its pool stands for the route and is never dialled
      // (requests go to the pools the router resolves; readiness does not probe it).
      const url = templated ? placeholderUrl(r.upstream.url) : r.upstream.url;
      deps.pools.set(key, (up = createUpstream({ ...r.upstream, url }, upstreamDeps)));
    }
    usedPools.add(key);
    if (identityRouted(r.upstream))
      routers.set(
        r,
        createUpstreamRouter(
          r.upstream,
          (url) => createUpstream({ ...r.upstream, url }, upstreamDeps),
          templated ? undefined : up,
        ),
      );
    return compileRoute(r, up, (hit) => metrics.cache('results', hit));
  });
  const claimNames = {
    namespaces: cfg.auth.jwt?.namespacesClaim ?? 'namespaces',
    labels: cfg.auth.jwt?.labelsClaim ?? 'labels',
  };
  const tenants = createTenantResolver(cfg.tenants, { logger, claimNames });
  const limits = buildLimits(cfg, compiled, {
    logger,
    metrics,
    trust,
    limitRule: (id) => tenants.limitRule(id),
    state: limitState,
  });
  const routes = compiled.map((r) =>
    compileRouteRuntime(r, {
      cfg,
      byMethod,
      enforcers,
      logger,
      signers,
      limits,
      tenants: routeTenants(cfg, r.cfg, tenants, { logger, claimNames }),
      router: routers.get(r.cfg),
    }),
  );
  const authenticators = [...byMethod.values()];

  return {
    cfg,
    logger,
    metrics,
    routes: new RouteTable(routes),
    authenticators,
    tenants,
    limits,
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
    credentials() {
      const out: { route: string; type: string; ok: boolean; detail: string }[] = [];
      for (const r of routes)
        if (r.signer?.status) out.push({ route: r.name, type: r.signer.type, ...r.signer.status() });
      return out;
    },
    poolKeys: usedPools,
    async close() {
      for (const s of signers) s.close?.();
      await Promise.allSettled([...routers.values()].map((r) => r.close()));
      await Promise.allSettled(authenticators.map(async (a) => a.close?.()));
    },
  };
}

/** Upstream TLS files are re-read when they change; each outcome is logged and counted. */
function tlsReloaded(url: string, deps: RuntimeDeps): (ok: boolean, reason?: string) => void {
  const source = `upstream.tls ${url}`;
  return (ok, reason) => {
    deps.metrics.reload(source, ok);
    if (ok) deps.logger.info({ source }, 'upstream TLS files reloaded; new connections use them');
    else
      deps.logger.error({ source, reason }, 'upstream TLS files refused; new connections keep using the previous ones');
  };
}

interface Enforcers {
  lenient: QueryEnforcer;
  strict: QueryEnforcer;
  vmLenient: QueryEnforcer;
  vmStrict: QueryEnforcer;
}

function enforcerOf(route: CompiledRoute, e: Enforcers): QueryEnforcer {
  const vm = route.kind === 'victoriametrics';
  if (route.cfg.errorOnConflict) return vm ? e.vmStrict : e.strict;
  return vm ? e.vmLenient : e.lenient;
}

/** The route's own tenant policy over the global one (what it leaves out is the global's), or the global resolver. */
function routeTenants(
  cfg: Config,
  route: RouteConfig,
  global: TenantResolver,
  deps: Pick<TenantResolverDeps, 'logger' | 'claimNames'>,
): TenantResolver {
  const own = route.tenants;
  if (!own) return global;
  const i = cfg.routes.indexOf(route);
  return createTenantResolver(
    {
      fromClaims: own.fromClaims ?? cfg.tenants.fromClaims,
      namespaceLabel: own.namespaceLabel ?? cfg.tenants.namespaceLabel,
      rules: own.rules ?? cfg.tenants.rules,
    },
    { ...deps, at: own.rules ? ['routes', i, 'tenants', 'rules'] : ['tenants', 'rules'] },
  );
}

interface RouteDeps {
  cfg: Config;
  byMethod: ReadonlyMap<string, Authenticator>;
  enforcers: Enforcers;
  logger: Logger;
  /** Every signer made, so a refused build or a closed runtime stops their credential refreshers. */
  signers: UpstreamSigner[];
  limits: RuntimeLimits;
  /** The route's tenant resolver (its own policy, or the global one). */
  tenants: TenantResolver;
  router?: UpstreamRouter;
}

/** One route's stages, built once: its auth chain, enforcer, tenant header, header hygiene and signer. */
function compileRouteRuntime(route: CompiledRoute, deps: RouteDeps): RouteRuntime {
  const { cfg, byMethod } = deps;
  const methods = route.cfg.authMethods ?? ['cert', 'session', 'jwt', 'basic', 'anonymous'];
  const authenticators = methods.flatMap((m) => (byMethod.has(m) ? [byMethod.get(m)!] : []));
  const challenge = authenticators.some((a) => a.method === 'basic')
    ? `Basic realm="${cfg.auth.basic?.realm ?? 'promgate'}", charset="UTF-8"`
    : authenticators.some((a) => a.method === 'jwt')
      ? 'Bearer'
      : undefined;
  const th = route.cfg.upstream.tenantHeader;
  const index = cfg.routes.indexOf(route.cfg);
  const at = ['routes', index, 'upstream', 'tenantHeader', 'template'];
  const header = th ? createTenantHeader({ ...th, template: tenantHeaderTemplate(cfg, route.cfg) }, at) : undefined;
  const headerName = th?.name.toLowerCase();
  const signer = createSigner(route.cfg.upstream, { logger: deps.logger, route: route.name });
  if (signer) {
    deps.signers.push(signer);
    // Credentials are fetched at start, so /-/ready tells the truth before the first request.
    signer.warm?.();
  }
  const target = {
    origin: route.upstream.origin,
    basePath: route.upstream.basePath,
    maxBodyBytes: cfg.server.maxBodyBytes,
    route: route.name,
  };
  const tokenHeader = cfg.auth.jwt?.tokenHeader;
  const directives = compileDirectives(route.cfg, index, {
    env: process.env,
    sessionCookie: cfg.auth.oidc?.cookie.name,
  });
  return {
    ...route,
    resolveTenant: (id) => deps.tenants.resolve(id),
    router: deps.router,
    directives,
    auth: { authenticators, anonymous: cfg.auth.anonymous && methods.includes('anonymous'), challenge },
    enforcer: enforcerOf(route, deps.enforcers),
    stripHeaders: th ? new Set([normalizeHeaderName(th.name)]) : undefined,
    tenantHeaders(tenant, id, headers) {
      if (!header) return;
      const v = header(tenant, id);
      if (v !== '') headers[headerName!] = v;
    },
    admit: (ctx) => deps.limits.admit(route, ctx),
    queryLimits: (ctx) => deps.limits.queryLimits(route, ctx),
    sign: signer ? (call) => signCall(signer, target, call) : () => undefined,
    signer,
    callerCredentials:
      route.cfg.upstream.auth.type === 'passthrough'
        ? (id, incoming, headers) => {
            const auth = callerAuthorization(id, incoming, tokenHeader);
            if (auth !== undefined) headers.authorization = auth;
            else delete headers.authorization;
          }
        : undefined,
  };
}
