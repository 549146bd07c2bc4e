// One access-log line and one metrics update per request, written when the response closes.
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { RequestContext } from './context.js';
import type { Runtime } from '../server/runtime.js';
import { infoLine } from '../observability/logger.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PREFIX = randomBytes(4).toString('hex');
let counter = 0;

/** Reuse a caller's sane X-Request-Id so logs join up across proxies; otherwise mint a cheap unique one. */
export function nextRequestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && SAFE_ID.test(given)) return given;
  counter = (counter + 1) % 0x7fffffff;
  return `${PREFIX}-${counter.toString(36)}`;
}

export function logAccess(rt: Runtime, ctx: RequestContext): void {
  const seconds = (performance.now() - ctx.start) / 1000;
  const status = ctx.res.statusCode;
  const route = ctx.route?.name ?? (ctx.path.startsWith('/-/') || ctx.path === rt.cfg.server.metricsPath ? 'self' : 'none');
  const tenant = ctx.tenant ? (ctx.tenant.unrestricted ? 'unrestricted' : ctx.tenant.id) : '';
  rt.metrics.request(route, ctx.req.method ?? 'GET', status, tenant, seconds);
  if (!rt.cfg.server.accessLog) return;
  infoLine(
    rt.logger,
    {
      reqId: ctx.id,
      method: ctx.req.method,
      path: ctx.path,
      status,
      durationMs: Math.round(seconds * 100000) / 100,
      user: ctx.identity?.user,
      auth: ctx.identity?.method,
      tenant: tenant || undefined,
      unrestricted: ctx.tenant?.unrestricted || undefined,
      route,
      query: ctx.logQuery && ctx.logQuery.length > 2048 ? ctx.logQuery.slice(0, 2048) + '…' : ctx.logQuery,
      code: ctx.errorCode,
      aborted: ctx.res.writableFinished ? undefined : true,
    },
    'request',
  );
}
