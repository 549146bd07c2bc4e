// The request pipeline, and the only place that knows the stage order:
// own endpoints → route (+ rewrite) → endpoint (+ methods) → authenticate/authorize → headers → tenant → upstream (+ header directives)
// → admit (rate, concurrency) → plan (+ query limits) → send (+ response directives).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderError, toGatewayError, wantsJson } from '../errors.js';
import type { RequestContext } from './runtime.js';
import { parseTarget } from '../lib/path.js';
import { refusingMethod } from './authenticate.js';
import { logAccess, nextRequestId } from './access-log.js';
import { matchEndpointStage, matchRoute } from './match.js';
import { identify } from './identify.js';
import { chooseUpstream, planRequest, prepareHeaders, resolveTenant } from './plan.js';
import { send } from './send.js';
import type { Runtime } from './runtime.js';

/** `onDone` runs when each response closes (the server's in-flight count). */
export function createPipeline(current: () => Runtime, onDone?: () => void) {
  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const rt = current();
    const ctx: RequestContext = { req, res, id: nextRequestId(req), start: performance.now(), path: '', search: '' };
    // One 'close' listener per request: in-flight count, access log, and the upstream abort while a call runs.
    res.once('close', () => {
      onDone?.();
      logAccess(rt, ctx);
      ctx.onClose?.();
      ctx.release?.();
    });
    run(rt, ctx).catch((err: unknown) => fail(rt, ctx, err));
  };
}

async function run(rt: Runtime, ctx: RequestContext): Promise<void> {
  const target = parseTarget(ctx.req.url);
  ctx.path = target.path;
  ctx.wire = target.wire;
  ctx.search = target.search;
  if (rt.own) {
    // Most requests are not for promgate's own endpoints; a plain `false` needs no await.
    const own = rt.own(ctx);
    if (own === true || (own !== false && (await own))) {
      ctx.allowed = ctx.errorCode === undefined;
      return;
    }
  }
  const route = matchRoute(rt, ctx);
  const m = matchEndpointStage(rt, ctx, route);
  const known = identify(rt, ctx, m);
  if (known === false || (known !== true && !(await known))) return;
  const headers = prepareHeaders(rt, ctx, m);
  resolveTenant(rt, ctx, m, headers);
  chooseUpstream(rt, ctx, route, headers);
  // Rate limit and concurrency slot, once the caller and its tenant are known.
  const admitted = route.admit(ctx);
  if (admitted) await admitted;
  const plan = await planRequest(rt, ctx, m, headers);
  ctx.allowed = true;
  await send(rt, ctx, route, plan, headers);
}

function fail(rt: Runtime, ctx: RequestContext, err: unknown): void {
  const ge = toGatewayError(err);
  if (ge.code === 'PG_INTERNAL') rt.logger.error({ reqId: ctx.id, err }, 'internal error');
  if (ge.status === 401) rt.metrics.authFailure(ctx.identity?.method ?? refusingMethod(err), ge.code);
  ctx.errorCode = ge.code;
  ctx.errorReason = ge.message;
  // A queued request whose client left is not a refusal anyone saw.
  if (!ctx.res.destroyed) rt.limits.rejected(ctx, ge.code);
  if (ctx.req.readableEnded === false && !ctx.req.destroyed) ctx.req.resume();
  renderError(ctx.res, ge, wantsJson(ctx.path || '/api/', ctx.req.headers.accept));
}
