// The authenticate and authorize stages: who is asking (or the login redirect), and whether the route lets them in.
import { GatewayError } from '../errors.js';
import { ANONYMOUS } from '../authn/anonymous.js';
import { authorize } from '../authz/rules.js';
import { authenticate } from './authenticate.js';
import type { RequestContext } from './runtime.js';
import type { Matched } from './match.js';
import type { Runtime } from './runtime.js';

/**
 * Sets ctx.identity and returns true, or returns false when the answer (a login redirect) was already sent.
 * Synchronous while the chain is (a cached credential), so the common request awaits nothing here.
 */
export function identify(rt: Runtime, ctx: RequestContext, m: Matched): boolean | Promise<boolean> {
  if (m.unprotected) {
    ctx.identity = ANONYMOUS;
    return true;
  }
  let id: ReturnType<typeof authenticate>;
  try {
    id = authenticate(m.route.auth, { headers: ctx.req.headers, path: ctx.path, socket: ctx.req.socket });
  } catch (e) {
    return refused(rt, ctx, m, e);
  }
  if (!(id instanceof Promise)) {
    ctx.identity = id;
    authorize(m.route.cfg, id);
    return true;
  }
  return id.then(
    (ok) => {
      ctx.identity = ok;
      authorize(m.route.cfg, ok);
      return true;
    },
    (e: unknown) => refused(rt, ctx, m, e),
  );
}

/** A route that signs browsers in answers "no session" with a login redirect (or 401 JSON for API callers). */
function refused(rt: Runtime, ctx: RequestContext, m: Matched, e: unknown): false {
  const signIn = rt.oauth && m.route.auth.authenticators.some((a) => a.method === 'session');
  if (
    !signIn ||
    !(e instanceof GatewayError) ||
    (e.code !== 'PG_AUTHN_REQUIRED' && e.code !== 'PG_AUTHN_TOKEN_EXPIRED')
  )
    throw e;
  ctx.errorCode = e.code;
  ctx.errorReason = e.message;
  rt.metrics.authFailure('session', e.code);
  rt.oauth!.unauthenticated(ctx.req, ctx.res, new URL(ctx.req.url ?? '/', 'http://promgate'));
  return false;
}
