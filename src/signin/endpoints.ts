// The oauth2-proxy-compatible endpoints under /oauth2 (sign_in, start, callback, sign_out, userinfo, auth), /ping and /ready.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, renderError, toGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { OidcConfig } from '../config/schema-auth.js';
import type { AuthRequest, Identity } from '../authn/identity.js';
import type { ProxyTrust } from '../lib/trusted-proxies.js';
import { cookieHost, type SessionAuthenticator } from '../authn/session/authenticator.js';
import { parseCookies } from '../authn/session/cookies.js';
import { createRedirectValidator } from './redirect.js';
import { callbackUrl, chooseRedirect, skipTarget, wantsApiAnswer } from './request-info.js';
import { authResponseHeaders } from './headers.js';
import { queryAllows } from '../authz/allowed.js';
import { createSkipAuthMatcher } from './skip-auth.js';
import { loginFailedPage, redirect, sendJson, sendText, signInPage } from './respond.js';
import { signOut } from './sign-out.js';
import { searchMatcher } from '../lib/re2.js';

export interface OAuth2EndpointDeps {
  logger: Logger;
  trust: ProxyTrust;
  session: SessionAuthenticator;
  /** The whole chain for these endpoints: session, and JWT bearer tokens when skipJwtBearerTokens. */
  authenticate(req: AuthRequest): Promise<Identity | null>;
}

export interface OAuth2Endpoints {
  handles(path: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  /** For a route that accepts sessions and found no identity: login redirect for browsers, 401 JSON for APIs. */
  unauthenticated(req: IncomingMessage, res: ServerResponse, url: URL): void;
}

/** Every endpoint under proxyPrefix (test/security/html-headers.test.ts crawls them all). */
export const ACTIONS = ['sign_in', 'start', 'callback', 'sign_out', 'userinfo', 'auth'] as const;
type Action = (typeof ACTIONS)[number];

export function createOAuth2Endpoints(cfg: OidcConfig, deps: OAuth2EndpointDeps): OAuth2Endpoints {
  const prefix = cfg.proxyPrefix.replace(/\/+$/, '');
  const { session, trust, logger } = deps;
  const validate = createRedirectValidator(cfg.whitelistDomains);
  const skip = createSkipAuthMatcher(cfg.skipAuthRoutes);
  const apiRoutes = cfg.apiRoutes.map(searchMatcher);
  const routes = new Map<string, Action>(ACTIONS.map((a) => [`${prefix}/${a}`, a]));
  const choice = { validate, trust, proxyPrefix: prefix };
  const startUrl = (rd: string) => `${prefix}/start?rd=${encodeURIComponent(rd)}`;

  /** The identity, or the refusal turned into a status with the session cookies cleared. */
  async function identify(
    req: IncomingMessage,
    path: string,
  ): Promise<{ id: Identity | null; err?: GatewayError; clear: string[] }> {
    try {
      return { id: await deps.authenticate({ headers: req.headers, path }), clear: [] };
    } catch (e) {
      const err = toGatewayError(e);
      if (err.status >= 500) logger.error({ err: err.message, code: err.code }, 'authentication failed');
      return { id: null, err, clear: err.status === 401 ? session.clearCookies(req.headers) : [] };
    }
  }

  async function auth(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (cfg.skipAuthRoutes.length > 0) {
      // Fails closed: an ambiguous forwarded request (see skipTarget) is authenticated like any other.
      const t = skipTarget(req, trust);
      if (t !== null && skip(t.method, t.path)) return sendText(res, 202, '');
    }
    const { id, err, clear } = await identify(req, url.pathname);
    // As oauth2-proxy: a caller that fails the sign-in rules is 401 (no usable session); 403 is kept for the
    // per-request query limits (allowed_groups, allowed_emails, allowed_email_domains). Outages stay 5xx.
    if (!id)
      return err && err.status >= 500
        ? sendText(res, err.status, err.errorType, clear)
        : sendText(res, 401, 'Unauthorized', clear);
    if (!session.allowed(id)) return sendText(res, 401, 'Unauthorized', id.setCookies ?? []);
    if (!queryAllows(id, url.searchParams)) return sendText(res, 403, 'Forbidden', id.setCookies ?? []);
    sendText(res, 202, '', id.setCookies ?? [], authResponseHeaders(id, cfg));
  }

  async function userinfo(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { id, err, clear } = await identify(req, url.pathname);
    if (!id)
      return renderError(res, err ?? new GatewayError('PG_AUTHN_REQUIRED', 'authentication required'), true, clear);
    const pref = id.claims.preferred_username;
    sendJson(
      res,
      200,
      {
        user: id.user,
        email: id.email,
        groups: id.groups.length > 0 ? id.groups : undefined,
        preferredUsername: typeof pref === 'string' ? pref : undefined,
      },
      id.setCookies ?? [],
    );
  }

  async function start(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const rd = chooseRedirect(req, url, choice);
    const out = await session.login.start({
      rd,
      redirectUri: callbackUrl(req, choice, cfg.redirectUrl),
      cookies: parseCookies(req.headers),
      host: cookieHost(req.headers),
    });
    redirect(res, out.location, out.setCookies);
  }

  async function callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const result = await session.login.finish({
        query: url.searchParams,
        cookies: parseCookies(req.headers),
        host: cookieHost(req.headers),
      });
      try {
        const created = await session.createSession(result, req.headers);
        logger.info({ user: created.state.user, email: created.state.email }, 'signed in');
        redirect(res, validate(result.rd) ?? '/', [...created.setCookies, result.clearCsrf]);
      } catch (e) {
        throw Object.assign(toGatewayError(e), { clearCsrf: result.clearCsrf });
      }
    } catch (e) {
      const err = toGatewayError(e);
      logger.warn({ err: err.message, code: err.code }, 'sign-in failed');
      const clear = (err as GatewayError & { clearCsrf?: string }).clearCsrf;
      loginFailedPage(res, err, `${prefix}/sign_in`, clear ? [clear] : []);
    }
  }

  const handlers: Record<Action, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>> = {
    sign_in: async (req, res, url) => {
      const next = startUrl(chooseRedirect(req, url, choice));
      if (cfg.skipProviderButton) redirect(res, next);
      else signInPage(res, next);
    },
    start,
    callback,
    sign_out: (req, res, url) => signOut(req, res, url, { cfg, session, choice, logger }),
    userinfo,
    auth,
  };

  return {
    handles: (path) =>
      routes.has(path) ||
      (cfg.pingPath !== '' && path === cfg.pingPath) ||
      (cfg.readyPath !== '' && path === cfg.readyPath),
    async handle(req, res, url) {
      const path = url.pathname;
      if (path === cfg.pingPath) return sendText(res, 200, 'OK');
      if (path === cfg.readyPath) {
        if (!session.provider.ready()) session.provider.warm();
        const ok = session.ready();
        return sendText(res, ok ? 200 : 503, ok ? 'OK' : 'NOT READY');
      }
      const action = routes.get(path);
      if (!action) return sendText(res, 404, 'Not Found');
      try {
        await handlers[action](req, res, url);
      } catch (e) {
        const err = toGatewayError(e);
        if (err.status >= 500)
          logger.error({ err: err.message, code: err.code, cause: String(err.cause ?? '') }, `${action} failed`);
        if (wantsApiAnswer(req, path, apiRoutes)) renderError(res, err, true);
        else loginFailedPage(res, err, `${prefix}/sign_in`);
      }
    },
    unauthenticated(req, res, url) {
      const clear = session.clearCookies(req.headers);
      if (wantsApiAnswer(req, url.pathname, apiRoutes)) {
        return renderError(res, new GatewayError('PG_AUTHN_REQUIRED', 'authentication required'), true, clear);
      }
      redirect(res, startUrl(validate(url.pathname + url.search) ?? '/'), clear);
    },
  };
}
