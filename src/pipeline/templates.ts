// What header directive templates read for one request (identity, the client's cookies, its address), made on first use.
import { clientAddress } from '../lib/trusted-proxies.js';
import type { TemplateRequest } from '../upstream/directives.js';
import type { RequestContext, Runtime } from './runtime.js';

/** What header templates read for this request, made on first use. */
export function templateRequest(rt: Runtime, ctx: RequestContext): TemplateRequest {
  return (ctx.templates ??= {
    identity: ctx.identity!,
    incoming: ctx.req.headers,
    clientIp: () => clientAddress(ctx.req, rt.trust),
  });
}
