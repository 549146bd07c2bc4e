// Builds the OIDC pieces of a runtime: the session authenticator, the /oauth2 endpoints, and provider JWTs for skip-jwt-bearer-tokens.
import { signInCheck } from '../authz/allowed.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Authenticator, AuthRequest, Identity } from '../authn/identity.js';
import { createSessionAuthenticator, type SessionAuthenticator } from '../authn/session/authenticator.js';
import { createOAuth2Endpoints, type OAuth2Endpoints } from '../signin/endpoints.js';
import { bearerIssuers } from '../authn/oidc/bearer-issuers.js';
import { createJwtAuthenticator } from '../authn/jwt.js';
import { authSchema } from '../config/schema-auth.js';
import { authenticate as runChain } from '../pipeline/authenticate.js';
import { GatewayError } from '../errors.js';
import type { ProxyTrust } from '../lib/trusted-proxies.js';
import type { OnReload } from '../authn/reloadable.js';

export interface OidcWiring {
  session: SessionAuthenticator;
  endpoints: OAuth2Endpoints;
  /** Provider-issued JWTs accepted instead of a cookie (skip-jwt-bearer-tokens); undefined when off. */
  bearer?: Authenticator;
}

/**
 * The provider's JWKS URL is only known after discovery, which may fail at start-up (provider down):
 * the bearer authenticator is built on first use and retried on later requests, never crashing the gateway.
 */
function lazyBearer(
  cfg: Config,
  session: SessionAuthenticator,
  deps: { logger: Logger; onReload: OnReload },
): Authenticator {
  const oidc = cfg.auth.oidc!;
  let built: Promise<Authenticator> | undefined;
  const get = () =>
    (built ??= bearerIssuers(oidc, session.provider).then((issuers) => {
      const jwt = authSchema.parse({
        jwt: { ...(cfg.auth.jwt ?? {}), issuers: [...(cfg.auth.jwt?.issuers ?? []), ...issuers] },
      }).jwt!;
      return createJwtAuthenticator(jwt, deps);
    })).catch((e: unknown) => {
      built = undefined;
      throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'the OpenID provider cannot be reached to check bearer tokens', {
        cause: e,
      });
    });
  return {
    method: 'jwt',
    async authenticate(req: AuthRequest): Promise<Identity | null> {
      const auth = req.headers.authorization;
      if (typeof auth !== 'string' || !/^bearer\s/i.test(auth)) return null;
      return (await get()).authenticate(req);
    },
    async close() {
      if (built) await (await built.catch(() => undefined))?.close?.();
    },
  };
}

export function wireOidc(
  cfg: Config,
  deps: { logger: Logger; trust: ProxyTrust; onReload: OnReload },
): OidcWiring | undefined {
  const oidc = cfg.auth.oidc;
  if (!oidc) return undefined;
  const groupsUsed =
    cfg.tenants.rules.some(
      (r) =>
        r.match.groups !== undefined ||
        JSON.stringify(r.labels).includes('{{ group') ||
        JSON.stringify(r.labels).includes('{{group'),
    ) ||
    cfg.routes.some((r) => r.allowedGroups.length > 0) ||
    // The portal shows the person's groups.
    cfg.portal !== undefined;
  const session = createSessionAuthenticator(oidc, { logger: deps.logger, groupsUsed, allowed: signInCheck(oidc) });
  const bearer = oidc.skipJwtBearerTokens ? lazyBearer(cfg, session, deps) : undefined;
  const chain = { authenticators: bearer ? [session, bearer] : [session], anonymous: false };
  const endpoints = createOAuth2Endpoints(oidc, {
    logger: deps.logger,
    trust: deps.trust,
    session,
    authenticate: async (r) => {
      try {
        return await runChain(chain, r);
      } catch (e) {
        if (e instanceof GatewayError && e.code === 'PG_AUTHN_REQUIRED') return null;
        throw e;
      }
    },
  });
  session.provider.warm();
  return { session, endpoints, bearer };
}
