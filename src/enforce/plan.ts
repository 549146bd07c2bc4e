// The plan types: what the enforce stage turns a request into, and what it needs to do so.
import type { IncomingMessage } from 'node:http';
import type { Tenant } from '../tenancy/tenant.js';
import type { Enforcement } from './endpoints.js';
import type { ParamBackend, QueryEnforcer } from './params.js';
import type { DotMode } from '../lib/re2.js';
import type { QueryLimitsConfig } from '../config/schema-limits.js';

/** Reads a JSON document from the same upstream (used to check silence ownership). */
export type Lookup = (pathAndQuery: string) => Promise<{ status: number; json: unknown }>;

export type Plan =
  | {
      type: 'stream';
      method: string;
      pathAndQuery: string;
      body?: Buffer | IncomingMessage | null;
      contentType?: string;
    }
  | { type: 'filter'; method: string; pathAndQuery: string; filter: (body: unknown) => unknown }
  | { type: 'json'; status: number; body: unknown };

export interface EnforceInput {
  req: IncomingMessage;
  method: string;
  /** Upstream-relative path (already encoded) without query. */
  upstreamPath: string;
  search: string;
  enforce: Enforcement;
  tenant: Tenant;
  /** The route allows metadata endpoints. */
  allowMetadata: boolean;
  maxBodyBytes: number;
  /** Most `match[]` selectors in one request (server.maxMatchSelectors); absent: no limit. */
  maxMatchSelectors?: number;
  enforcer: QueryEnforcer;
  lookup: Lookup;
  /** How the backend reads "." in label regexes right now (the route's DotModeState); filters read tenant regexes the same way. */
  dotMode: DotMode;
  /** Which API reads the request (default prometheus); victoriametrics adds the extra_filters[] layer. */
  backend?: ParamBackend;
  /** Query limits of this route and tenant (query and match endpoints); absent: none. */
  queryLimits?: QueryLimits;
}

export interface QueryLimits {
  config: QueryLimitsConfig;
  /** The route's upstream.headersTimeout: the ceiling of the timeout sent to Prometheus. */
  routeTimeout: number;
  /** API path below the route's apiPrefix (the endpoint table's path). */
  apiPath: string;
  now: number;
}

export interface EnforceResult {
  plan: Plan;
  logQuery?: string;
}
