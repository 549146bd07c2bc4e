// The per-request context every stage reads and fills in; only the pipeline creates it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../authn/identity.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { CompiledRoute } from '../routes/table.js';
import type { EndpointMatch } from '../enforce/endpoints.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly start: number;
  /** Decoded request path and raw query string. */
  path: string;
  search: string;
  route?: CompiledRoute;
  /** Path below the route prefix (what the upstream sees, before the upstream base path). */
  rel?: string;
  /** Path looked up in the endpoint table (rel without the route's apiPrefix). */
  apiPath?: string;
  endpoint?: EndpointMatch;
  identity?: Identity;
  tenant?: Tenant;
  /** Rewritten query/match[] values, for the access log. */
  logQuery?: string;
  /** Set when the error was already counted (auth failures). */
  errorCode?: string;
  /** Runs when the response closes, while an upstream call is in flight (aborts it if the client left). */
  onClose?: () => void;
  /** Hands back the concurrency slot (or leaves the queue) when the response closes. */
  release?: () => void;
}
