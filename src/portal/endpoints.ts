// The portal's two paths, answered before route matching: the page for people and portal.json for scripts.
import { GatewayError, renderError, toGatewayError } from '../errors.js';
import type { Identity } from '../authn/identity.js';
import { authenticate, type AuthChain } from '../pipeline/authenticate.js';
import type { RequestContext, Runtime } from '../pipeline/runtime.js';
import { portalPaths } from '../config/derived.js';
import { renderPage, sendPage, sendView } from './page.js';
import { buildView, type RouteHealth } from './view.js';

export interface PortalDeps {
  /** The readiness probe's last result per route. */
  health(): readonly RouteHealth[];
}

/** Every configured method that names a caller (session, JWT, basic); anonymous callers are nobody to list routes for. */
function portalChain(rt: Runtime): AuthChain {
  const authenticators = rt.authenticators.filter((a) => a.method !== 'anonymous');
  const challenge = authenticators.some((a) => a.method === 'basic')
    ? `Basic realm="${rt.cfg.auth.basic?.realm ?? 'promgate'}", charset="UTF-8"`
    : authenticators.some((a) => a.method === 'jwt')
      ? 'Bearer'
      : undefined;
  return { authenticators, anonymous: false, challenge };
}

/** Returns the portal's handler, or undefined when the config has no `portal` block. */
export function createPortal(
  rt: Runtime,
  deps: PortalDeps,
): ((ctx: RequestContext) => Promise<boolean> | boolean) | undefined {
  const cfg = rt.cfg.portal;
  if (!cfg) return undefined;
  const { page, json } = portalPaths(cfg.path);
  const chain = portalChain(rt);
  const signOut = rt.cfg.auth.oidc ? `${rt.cfg.auth.oidc.proxyPrefix.replace(/\/+$/, '')}/sign_out` : undefined;

  async function serve(ctx: RequestContext, asJson: boolean): Promise<void> {
    const { req, res } = ctx;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      throw new GatewayError('PG_METHOD_NOT_ALLOWED', `${method} is not allowed on ${ctx.path}`, {
        headers: { allow: 'GET, HEAD' },
      });
    }
    let id: Identity;
    try {
      id = await authenticate(chain, { headers: req.headers, path: ctx.path });
    } catch (e) {
      const err = toGatewayError(e);
      ctx.errorCode = err.code;
      // A browser without a session (or with an expired one) goes to sign-in and comes back here, as on any
      // session route (pipeline/identify.ts); a bad credential of another kind stays a 401.
      if (!asJson && rt.oauth && (err.code === 'PG_AUTHN_REQUIRED' || err.code === 'PG_AUTHN_TOKEN_EXPIRED')) {
        rt.metrics.authFailure('session', err.code);
        rt.oauth.unauthenticated(req, res, new URL(req.url ?? '/', 'http://promgate'));
        return;
      }
      throw err;
    }
    ctx.identity = id;
    const view = buildView(rt, id, deps.health(), { title: cfg!.title, signOut });
    const head = method === 'HEAD';
    if (asJson) sendView(res, view, head, id.setCookies ?? []);
    else sendPage(res, renderPage(view), head, id.setCookies ?? []);
  }

  return (ctx) => {
    const asJson = ctx.path === json;
    if (!asJson && ctx.path !== page) return false;
    return serve(ctx, asJson).then(
      () => true,
      (e: unknown) => {
        const err = toGatewayError(e);
        ctx.errorCode = err.code;
        if (err.status === 401) rt.metrics.authFailure('none', err.code);
        renderError(ctx.res, err, asJson);
        return true;
      },
    );
  };
}
