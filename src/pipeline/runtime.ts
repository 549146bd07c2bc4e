// The contract the pipeline runs on: what a Runtime and each of its routes provide (wiring/ builds them), and the request context.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Authenticator, Identity } from '../authn/identity.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { CompiledRoute, RouteTable } from '../routes/table.js';
import type { QueryEnforcer } from '../enforce/params.js';
import type { ProxyTrust } from '../lib/trusted-proxies.js';
import type { OAuth2Endpoints } from '../signin/endpoints.js';
import type { SkipAuthMatcher } from '../signin/skip-auth.js';
import type { AuthChain } from './authenticate.js';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamCall, UpstreamSigner } from '../upstream/signers/index.js';
import type { EndpointMatch } from '../enforce/endpoints.js';
import type { QueryLimits } from '../enforce/plan.js';
import type { RuntimeLimits } from '../limits/limits.js';
import type { UpstreamRouter } from '../upstream/identity-upstream.js';
import type { CompiledDirectives, TemplateRequest } from '../upstream/directives.js';
import type { Upstream } from '../upstream/pool.js';

export type UpstreamHeaders = Record<string, string | string[]>;

/** One route compiled once with every stage it needs; the request path reads only this. */
export interface RouteRuntime extends CompiledRoute {
  /** authenticate: the route's methods, in order. */
  readonly auth: AuthChain;
  /** plan: the PromQL enforcer (strict when the route sets errorOnConflict). */
  readonly enforcer: QueryEnforcer;
  /** Header hygiene: names stripped besides the standard ones (the route's own tenant header). */
  readonly stripHeaders?: ReadonlySet<string>;
  /** Rate limit, then a concurrency slot (held until the response closes, through ctx.release). */
  admit(ctx: RequestContext): void | Promise<void>;
  /** The query limits of this route and caller, for the plan stage. */
  queryLimits(ctx: RequestContext): QueryLimits;
  /** The tenant of this identity under the route's own tenants policy, or the global one when it has none (403 when none). */
  resolveTenant(id: Identity): Tenant;
  /** Present when the upstream is chosen by identity (a templated url, or urls): 403 when a value cannot name one. */
  readonly router?: UpstreamRouter;
  /** The route's header directives (routes[].headers), compiled once. */
  readonly directives: CompiledDirectives;
  /** Adds the route's tenant header (X-Scope-OrgID, …) for this tenant and identity. */
  tenantHeaders(tenant: Tenant, id: Identity, headers: UpstreamHeaders): void;
  /**
   * Adds upstream credentials to `call`, always the last change before sending. SigV4 may buffer a streamed
   * body and re-serialise the query, so the caller sends call.pathAndQuery and call.body as they are afterwards.
   * A promise only when signing must wait (a credential fetch, a body read).
   */
  sign(call: UpstreamCall): Promise<void> | void;
  /** The route's signer, when it has one (an upstream 401/403 to promgate's own credential becomes a 502, redacted). */
  readonly signer?: UpstreamSigner;
  /** `upstream.auth: passthrough`: the caller's own credential goes upstream (set with the identity headers). */
  callerCredentials?(id: Identity, incoming: IncomingHttpHeaders, headers: UpstreamHeaders): void;
}

/** Everything one frozen config builds; a reload builds a new Runtime and swaps it in whole. */
export interface Runtime {
  readonly cfg: Config;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly routes: RouteTable<RouteRuntime>;
  readonly authenticators: readonly Authenticator[];
  readonly tenants: { resolve(id: Identity): Tenant; limitRule(id: Identity): number };
  /** Limit refusals counted by code, and the in-flight gauge (the per-route checks are on each RouteRuntime). */
  readonly limits: Pick<RuntimeLimits, 'rejected' | 'inflight'>;
  readonly trust: ProxyTrust;
  /** The /oauth2 endpoints when OIDC sign-in is configured. */
  readonly oauth?: OAuth2Endpoints;
  /** oauth2-proxy skip-auth-route rules: matching requests skip authentication. */
  readonly skipAuth?: SkipAuthMatcher;
  /** Identity headers for the upstream (X-Forwarded-User…, pass-access-token, pass-authorization-header). */
  identityHeaders(id: Identity, headers: UpstreamHeaders): void;
  /** Gateway-owned endpoints (health, readiness, metrics, sign-in); true when handled. */
  own?: (ctx: RequestContext) => Promise<boolean> | boolean;
  /** server.auditLog with a file: writes one finished JSON line there (the server keeps it across reloads). */
  audit?: (line: string) => void;
  /** Credential state of each signing route, for /-/ready. */
  credentials(): { route: string; type: string; ok: boolean; detail: string }[];
  /** Pool keys this runtime uses (the server closes pools no runtime uses any more). */
  readonly poolKeys: ReadonlySet<string>;
  close(): Promise<void>;
}

/** The per-request context every stage reads and fills in; only the pipeline creates it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly start: number;
  /** Decoded request path and raw query string. */
  path: string;
  /** The path as it is forwarded, when it differs from `path` (see RequestTarget.wire). */
  wire?: string;
  search: string;
  route?: RouteRuntime;
  /** Path below the route prefix (what the upstream sees, before the upstream base path). */
  rel?: string;
  /** The wire form of `rel` when the route's rewrite changed it (forwarded instead of the client's spelling). */
  rewritten?: string;
  /** The upstream this request goes to: the route's, or the one its identity chose. */
  upstream?: Upstream;
  /** What header templates read (identity, cookies, client address), made once per request when needed. */
  templates?: TemplateRequest;
  /** Path looked up in the endpoint table (rel without the route's apiPrefix). */
  apiPath?: string;
  endpoint?: EndpointMatch;
  identity?: Identity;
  tenant?: Tenant;
  /** Rewritten query/match[] values, for the access log. */
  logQuery?: string;
  /** Set when the error was already counted (auth failures). */
  errorCode?: string;
  /** The refusal's message, for the audit log. */
  errorReason?: string;
  /** Set once every check passed and the request goes to its upstream (or to promgate's own endpoint). */
  allowed?: boolean;
  /** Runs when the response closes, while an upstream call is in flight (aborts it if the client left). */
  onClose?: () => void;
  /** Hands back the concurrency slot (or leaves the queue) when the response closes. */
  release?: () => void;
}
