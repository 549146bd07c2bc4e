// The contract the pipeline runs on: what a Runtime and each of its routes provide. server/ builds them.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Authenticator, Identity } from '../authn/identity.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { CompiledRoute, RouteTable } from '../routes/table.js';
import type { QueryEnforcer } from '../enforce/params.js';
import type { ProxyTrust } from '../server/trusted-proxies.js';
import type { OAuth2Endpoints } from '../forward-auth/endpoints.js';
import type { SkipAuthMatcher } from '../forward-auth/skip-auth.js';
import type { AuthChain } from './authenticate.js';
import type { RequestContext } from './context.js';

export type UpstreamHeaders = Record<string, string | string[]>;

/** One route compiled once with every stage it needs; the request path reads only this. */
export interface RouteRuntime extends CompiledRoute {
  /** authenticate: the route's methods, in order. */
  readonly auth: AuthChain;
  /** plan: the PromQL enforcer (strict when the route sets errorOnConflict). */
  readonly enforcer: QueryEnforcer;
  /** Header hygiene: names stripped besides the standard ones (the route's own tenant header). */
  readonly stripHeaders?: ReadonlySet<string>;
  /** Adds the route's tenant header (X-Scope-OrgID, …) for this tenant and identity. */
  tenantHeaders(tenant: Tenant, id: Identity, headers: UpstreamHeaders): void;
  /** Adds upstream credentials, always the last header change. A promise only when signing must wait. */
  sign(headers: UpstreamHeaders): Promise<void> | void;
}

/** Everything one frozen config builds; a reload builds a new Runtime and swaps it in whole. */
export interface Runtime {
  readonly cfg: Config;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly routes: RouteTable<RouteRuntime>;
  readonly authenticators: readonly Authenticator[];
  readonly tenants: { resolve(id: Identity): Tenant };
  readonly trust: ProxyTrust;
  /** The /oauth2 endpoints when OIDC sign-in is configured. */
  readonly oauth?: OAuth2Endpoints;
  /** oauth2-proxy skip-auth-route rules: matching requests skip authentication. */
  readonly skipAuth?: SkipAuthMatcher;
  /** Identity headers for the upstream (X-Forwarded-User…, pass-access-token, pass-authorization-header). */
  identityHeaders(id: Identity, headers: UpstreamHeaders): void;
  /** Gateway-owned endpoints (health, readiness, metrics, sign-in); true when handled. */
  own?: (ctx: RequestContext) => Promise<boolean> | boolean;
  /** Pool keys this runtime uses (the server closes pools no runtime uses any more). */
  readonly poolKeys: ReadonlySet<string>;
  close(): Promise<void>;
}
