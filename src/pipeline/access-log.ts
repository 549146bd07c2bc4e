// One access-log line and one metrics update per request, written when the response closes; with server.auditLog
// the same line carries the decision (allow or deny, its code and reason) and the endpoint, and a file of its own gets it too.
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { RequestContext } from './runtime.js';
import type { Runtime } from './runtime.js';
import { infoLine, infoWriter } from '../observability/logger.js';

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
  const route =
    ctx.route?.name ?? (ctx.path.startsWith('/-/') || ctx.path === rt.cfg.server.metricsPath ? 'self' : 'none');
  const tenant = ctx.tenant ? (ctx.tenant.unrestricted ? 'unrestricted' : ctx.tenant.id) : '';
  rt.metrics.request(route, ctx.req.method ?? 'GET', status, tenant, seconds);
  const audit = rt.cfg.server.auditLog.enabled;
  if (!rt.cfg.server.accessLog && !audit) return;
  const durationMs = Math.round(seconds * 100000) / 100;
  const query = ctx.logQuery && ctx.logQuery.length > 2048 ? ctx.logQuery.slice(0, 2048) + '…' : ctx.logQuery;
  const write = infoWriter(rt.logger);
  // Built once: the access line, the audit fields, and the same members for the audit file.
  const s =
    write || rt.audit ? members(ctx, status, durationMs, tenant, route, query) + (audit ? auditMembers(ctx) : '') : '';
  // Health, readiness and metrics probes decide nothing about anyone's data: they stay out of the audit log.
  const probe = route === 'self';
  if (rt.audit && !probe) rt.audit(infoLine(s, 'audit'));
  // With an audit file, stdout keeps the access log only when it is on; without one, stdout is the audit log.
  if (!rt.cfg.server.accessLog && (rt.audit || probe)) return;
  if (write) {
    write(s, 'request');
    return;
  }
  logWithPino(rt, ctx, { status, durationMs, tenant, route, query, audit });
}

/** The same access line through pino itself, when the logger has no fast writer (a caller's own logger). */
function logWithPino(
  rt: Runtime,
  ctx: RequestContext,
  f: { status: number; durationMs: number; tenant: string; route: string; query?: string; audit: boolean },
): void {
  const { status, durationMs, tenant, route, query, audit } = f;
  rt.logger.info(
    {
      reqId: ctx.id,
      method: ctx.req.method,
      path: ctx.path,
      status,
      durationMs,
      user: ctx.identity?.user,
      auth: ctx.identity?.method,
      tenant: tenant || undefined,
      unrestricted: ctx.tenant?.unrestricted || undefined,
      route,
      query,
      code: ctx.errorCode,
      aborted: ctx.res.writableFinished ? undefined : true,
      ...(audit
        ? {
            decision: ctx.allowed ? 'allow' : 'deny',
            reason: ctx.errorReason,
            endpoint: ctx.endpoint?.endpoint.path,
          }
        : {}),
    },
    'request',
  );
}

/** The audit fields: allow (every check passed) or deny, the refusal's reason, and the endpoint the request matched. */
function auditMembers(ctx: RequestContext): string {
  let s = ctx.allowed ? ',"decision":"allow"' : ',"decision":"deny"';
  if (ctx.errorReason !== undefined) s += `,"reason":${q(ctx.errorReason)}`;
  if (ctx.endpoint) s += `,"endpoint":${q(ctx.endpoint.endpoint.path)}`;
  return s;
}

const q = JSON.stringify;

/** The access line's fields as JSON members, in the object's key order, undefined ones left out (as pino does). */
function members(
  ctx: RequestContext,
  status: number,
  durationMs: number,
  tenant: string,
  route: string,
  query: string | undefined,
): string {
  const method = ctx.req.method;
  const id = ctx.identity;
  let s = `"reqId":${q(ctx.id)}`;
  if (method !== undefined) s += `,"method":${q(method)}`;
  s += `,"path":${q(ctx.path)},"status":${status},"durationMs":${q(durationMs)}`;
  if (id?.user !== undefined) s += `,"user":${q(id.user)}`;
  if (id?.method !== undefined) s += `,"auth":${q(id.method)}`;
  if (tenant) s += `,"tenant":${q(tenant)}`;
  if (ctx.tenant?.unrestricted) s += ',"unrestricted":true';
  s += `,"route":${q(route)}`;
  if (query !== undefined) s += `,"query":${q(query)}`;
  if (ctx.errorCode !== undefined) s += `,"code":${q(ctx.errorCode)}`;
  if (!ctx.res.writableFinished) s += ',"aborted":true';
  return s;
}
