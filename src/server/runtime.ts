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
import { createSigner, signCall, type UpstreamCall, type UpstreamSigner } from '../upstream/signers/index.js';
import { callerAuthorization } from '../upstream/signers/passthrough.js';
import type { IncomingHttpHeaders } from 'node:http';
import { wireOidc } from './oidc-wiring.js';
import type { OAuth2Endpoints } from '../forward-auth/endpoints.js';
import { upstreamIdentityHeaders } from '../forward-auth/headers.js';
import { createSkipAuthMatcher, type SkipAuthMatcher } from '../forward-auth/skip-auth.js';
import { stripSessionCookies } from '../authn/session/strip.js';

export interface Runtime {
  readonly cfg: Config;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly routes: RouteTable;
  readonly chains: ReadonlyMap<CompiledRoute, AuthChain>;
  readonly authenticators: readonly Authenticator[];
  readonly tenants: { resolve(id: Identity): Tenant };
  enforcerFor(route: CompiledRoute): QueryEnforcer;
  readonly trust: ProxyTrust;
  readonly stripHeaders: ReadonlyMap<CompiledRoute, ReadonlySet<string>>;
  /** The /oauth2 endpoints when OIDC sign-in is configured. */
  readonly oauth?: OAuth2Endpoints;
  /** oauth2-proxy skip-auth-route rules: matching requests skip authentication. */
  readonly skipAuth?: SkipAuthMatcher;
  /** Identity headers for the upstream (X-Forwarded-User…, pass-access-token, pass-authorization-header, the caller's own credential on passthrough routes). */
  identityHeaders(id: Identity, headers: Record<string, string | string[]>, route: CompiledRoute, incoming: IncomingHttpHeaders): void;
  /** Gateway-owned endpoints (health, readiness, metrics, sign-in); true when handled. */
  own?: (ctx: RequestContext) => Promise<boolean> | boolean;
  authenticate(chain: AuthChain, ctx: RequestContext, route: CompiledRoute): Identity | Promise<Identity>;
  addTenantHeaders(route: CompiledRoute, tenant: Tenant, id: Identity, headers: Record<string, string | string[]>): void;
  /**
   * Adds upstream credentials to `call`; always the last change before sending. SigV4 may buffer a streamed
   * body and re-serialise the query, so the caller sends call.pathAndQuery and call.body as they are afterwards.
   * A promise only when signing must wait (a credential fetch, a body read).
   */
  sign(route: CompiledRoute, call: UpstreamCall): Promise<void> | void;
  /** The route's signer, when it has one (the pipeline maps the upstream's 401/403 to it to 502, redacted). */
  signer(route: CompiledRoute): UpstreamSigner | undefined;
  /** Credential state of each signing route, for /-/ready. */
  credentials(): { route: string; type: string; ok: boolean; detail: string }[];
  /** Pool keys this runtime uses (the server closes pools no runtime uses any more). */
  readonly poolKeys: ReadonlySet<string>;
  close(): Promise<void>;
}

export interface RuntimeDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** Pools kept across reloads, keyed by their upstream settings, so a reload does not drop warm connections. */
  pools: Map<string, Upstream>;
}

export function buildRuntime(cfg: Config, deps: RuntimeDeps): Runtime {
  const byMethod = new Map<string, Authenticator>();
  const signers = new Map<CompiledRoute, UpstreamSigner>();
  try {
    return assemble(cfg, deps, byMethod, signers);
  } catch (e) {
    // A refused build (a bad users file on reload, say) must not leave the watchers and timers of the
    // authenticators and credential refreshers it had already made running beside the runtime that keeps serving.
    for (const a of byMethod.values()) void Promise.resolve(a.close?.()).catch(() => undefined);
    for (const s of signers.values()) s.close?.();
    throw e;
  }
}

function assemble(cfg: Config, deps: RuntimeDeps, byMethod: Map<string, Authenticator>, signers: Map<CompiledRoute, UpstreamSigner>): Runtime {
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

  const usedPools = new Set<string>();
  const routes: CompiledRoute[] = cfg.routes.map((r) => {
    const key = JSON.stringify(r.upstream);
    let up = deps.pools.get(key);
    if (!up) {
      const source = `upstream.tls ${r.upstream.url}`;
      up = createUpstream(r.upstream, {
        onReload(ok, reason) {
          metrics.reload(source, ok);
          if (ok) logger.info({ source }, 'upstream TLS files reloaded; new connections use them');
          else logger.error({ source, reason }, 'upstream TLS files refused; new connections keep using the previous ones');
        },
      });
      deps.pools.set(key, up);
    }
    usedPools.add(key);
    return compileRoute(r, up, (hit) => metrics.cache('results', hit));
  });
  const chains = new Map<CompiledRoute, AuthChain>();
  const strip = new Map<CompiledRoute, ReadonlySet<string>>();
  const tenantHeaders = new Map<CompiledRoute, ReturnType<typeof createTenantHeader>>();
  const passthrough = new Set<CompiledRoute>();
  for (const route of routes) {
    const methods = route.cfg.authMethods ?? ['session', 'jwt', 'basic', 'anonymous'];
    const authenticators = methods.flatMap((m) => (byMethod.has(m) ? [byMethod.get(m)!] : []));
    const anonymous = cfg.auth.anonymous && methods.includes('anonymous');
    const challenge = authenticators.some((a) => a.method === 'basic')
      ? `Basic realm="${cfg.auth.basic?.realm ?? 'promgate'}", charset="UTF-8"`
      : authenticators.some((a) => a.method === 'jwt') ? 'Bearer' : undefined;
    chains.set(route, { authenticators, anonymous, challenge });
    const signer = createSigner(route.cfg.upstream, { logger, route: route.name });
    if (signer) {
      signers.set(route, signer);
      // Credentials are fetched at start, so /-/ready tells the truth before the first request.
      signer.warm?.();
    }
    if (route.cfg.upstream.auth.type === 'passthrough') passthrough.add(route);
    const th = route.cfg.upstream.tenantHeader;
    if (th) {
      tenantHeaders.set(route, createTenantHeader({ ...th, template: th.template ?? `{{values.${cfg.tenants.namespaceLabel}}}` }));
      strip.set(route, new Set([normalizeHeaderName(th.name)]));
    }
  }
  const claimNames = { namespaces: cfg.auth.jwt?.namespacesClaim ?? 'namespaces', labels: cfg.auth.jwt?.labelsClaim ?? 'labels' };
  const tenants = createTenantResolver(cfg.tenants, { logger, claimNames });
  const authenticators = [...byMethod.values()];
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
    enforcerFor: (route) => (route.cfg.errorOnConflict ? strictEnforcer : enforcer),
    trust,
    oauth: oidc?.endpoints,
    skipAuth: oidcCfg && oidcCfg.skipAuthRoutes.length > 0 ? createSkipAuthMatcher(oidcCfg.skipAuthRoutes) : undefined,
    identityHeaders(id, headers, route, incoming) {
      // promgate's own cookies never reach the upstream: they carry sealed tokens the backend has no use for.
      if (cookiePrefix && typeof headers.cookie === 'string') {
        const kept = stripSessionCookies(headers.cookie, cookiePrefix);
        if (kept === '') delete headers.cookie;
        else headers.cookie = kept;
      }
      if (oidcCfg && id.method !== 'anonymous') Object.assign(headers, upstreamIdentityHeaders(id, oidcCfg));
      if (passthrough.has(route)) {
        const auth = callerAuthorization(id, incoming, cfg.auth.jwt?.tokenHeader);
        if (auth !== undefined) headers.authorization = auth;
        else delete headers.authorization;
      }
    },
    stripHeaders: strip,
    authenticate: (chain, ctx) => runChain(chain, { headers: ctx.req.headers, path: ctx.path }),
    addTenantHeaders(route, tenant, id, headers) {
      const fn = tenantHeaders.get(route);
      if (!fn) return;
      const v = fn(tenant, id);
      if (v !== '') headers[route.cfg.upstream.tenantHeader!.name.toLowerCase()] = v;
    },
    sign(route, call) {
      const s = signers.get(route);
      if (!s) return;
      return signCall(s, { origin: route.upstream.origin, basePath: route.upstream.basePath, maxBodyBytes: cfg.server.maxBodyBytes, route: route.name }, call);
    },
    signer: (route) => signers.get(route),
    credentials() {
      const out: { route: string; type: string; ok: boolean; detail: string }[] = [];
      for (const [route, s] of signers) if (s.status) out.push({ route: route.name, type: s.type, ...s.status() });
      return out;
    },
    poolKeys: usedPools,
    async close() {
      for (const s of signers.values()) s.close?.();
      await Promise.allSettled(authenticators.map(async (a) => a.close?.()));
    },
  };
}
