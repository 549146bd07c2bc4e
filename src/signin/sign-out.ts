// /oauth2/sign_out: clear the cookies, delete the server-side session, then RP-initiated logout at the provider or rd.
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as client from 'openid-client';
import type { Logger } from '../observability/logger.js';
import type { OidcConfig } from '../config/schema-auth.js';
import type { SessionAuthenticator } from '../authn/session/authenticator.js';
import { chooseRedirect, isTrusted, trustedOrigin, type RedirectChoice } from './request-info.js';
import { redirect } from './respond.js';

export interface SignOutDeps {
  cfg: OidcConfig;
  session: SessionAuthenticator;
  choice: RedirectChoice;
  logger: Logger;
}

/** Was a destination asked for (rd, or X-Auth-Request-Redirect from a trusted proxy), rather than the "/" fallback? */
function explicitTarget(req: IncomingMessage, url: URL, choice: RedirectChoice): boolean {
  if (choice.validate(url.searchParams.get('rd'))) return true;
  const h = req.headers['x-auth-request-redirect'];
  return isTrusted(req, choice.trust) && choice.validate(Array.isArray(h) ? h[0] : h) !== null;
}

export async function signOut(req: IncomingMessage, res: ServerResponse, url: URL, deps: SignOutDeps): Promise<void> {
  const { cfg, session, choice, logger } = deps;
  const rd = chooseRedirect(req, url, choice);
  const explicit = explicitTarget(req, url, choice);
  const ended = await session.endSession(req.headers);
  logger.info({ store: session.store.kind }, 'signed out');

  let location = rd;
  if (cfg.providerLogout) {
    const endSession = await endSessionUrl(session, logger);
    // oauth2-proxy setups often pass the provider's logout page itself as rd: honour it as it is.
    if (endSession && !(explicit && /^https?:/i.test(rd) && new URL(rd).origin === endSession.origin)) {
      // A relative rd becomes absolute only on an origin we trust; otherwise the configured URL is used.
      const origin = rd.startsWith('/') ? trustedOrigin(req, choice) : '';
      const post = explicit && origin !== undefined ? origin + rd : cfg.postLogoutRedirectUrl;
      const params: Record<string, string> = { client_id: cfg.clientId };
      if (ended.idToken) params.id_token_hint = ended.idToken;
      if (post) params.post_logout_redirect_uri = post;
      try {
        location = client.buildEndSessionUrl(await session.provider.configuration(), params).href;
      } catch (e) {
        logger.warn({ err: (e as Error).message }, 'cannot build the provider logout URL; redirecting to rd');
      }
    }
  }
  redirect(res, location, ended.setCookies);
}

async function endSessionUrl(session: SessionAuthenticator, logger: Logger): Promise<URL | undefined> {
  try {
    const ep = (await session.provider.configuration()).serverMetadata().end_session_endpoint;
    return ep ? new URL(ep) : undefined;
  } catch (e) {
    logger.warn({ err: (e as Error).message }, 'provider unavailable during sign-out; local sign-out only');
    return undefined;
  }
}
