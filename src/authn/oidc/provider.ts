// The OpenID provider as openid-client sees it: discovery (retried until it works), client authentication and scopes.
import { ConfigError } from '../../config/errors.js';
import * as client from 'openid-client';
import { clientSecretOf } from './client-secret.js';
import type { Logger } from '../../observability/logger.js';
import type { OidcConfig } from '../../config/schema-auth.js';

export interface OidcProvider {
  /** The discovered configuration; discovery runs on first use and again after a failure (at most every 5 s). */
  configuration(): Promise<client.Configuration>;
  /** True once discovery has succeeded. */
  ready(): boolean;
  /** Space-separated scopes for the authorization request. */
  readonly scope: string;
  /** Starts discovery now (at startup) without waiting for it. */
  warm(): void;
}

const RETRY_MS = 5000;

/** Configured scopes, else openid email profile, plus groups when allowedGroups or (the caller says) tenant rules use groups. */
export function defaultScopes(cfg: Pick<OidcConfig, 'scopes' | 'allowedGroups'>, groupsUsed = false): string[] {
  if (cfg.scopes && cfg.scopes.length > 0) return [...cfg.scopes];
  const s = ['openid', 'email', 'profile'];
  if (cfg.allowedGroups.length > 0 || groupsUsed) s.push('groups');
  return s;
}

export function createOidcProvider(
  cfg: OidcConfig,
  deps: { logger: Logger; fetch?: client.CustomFetch; groupsUsed?: boolean },
): OidcProvider {
  const issuer = new URL(cfg.issuerUrl);
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && cfg.insecure)) {
    throw ConfigError.at(
      ['auth', 'oidc', 'issuerUrl'],
      `must be https:// (set insecure: true to allow ${issuer.protocol}//, tests only)`,
    );
  }
  const secret = clientSecretOf(cfg);
  const auth =
    cfg.clientAuthMethod === 'client_secret_post' ? client.ClientSecretPost(secret) : client.ClientSecretBasic(secret);
  const scope = defaultScopes(cfg, deps.groupsUsed).join(' ');
  let current: client.Configuration | undefined;
  let pending: Promise<client.Configuration> | undefined;
  let failedAt = 0;
  let lastError: unknown;

  const discover = async (): Promise<client.Configuration> => {
    const opts: client.DiscoveryRequestOptions = { timeout: Math.max(1, Math.ceil(cfg.httpTimeout / 1000)) };
    if (issuer.protocol === 'http:') opts.execute = [client.allowInsecureRequests];
    if (deps.fetch) opts[client.customFetch] = deps.fetch;
    const conf = await client.discovery(issuer, cfg.clientId, { client_secret: secret }, auth, opts);
    if (!conf.serverMetadata().supportsPKCE('S256')) {
      deps.logger.warn({ issuer: cfg.issuerUrl }, 'provider does not advertise PKCE S256; sending it anyway');
    }
    return conf;
  };

  const configuration = (): Promise<client.Configuration> => {
    if (current) return Promise.resolve(current);
    if (pending) return pending;
    if (Date.now() - failedAt < RETRY_MS && lastError !== undefined) return Promise.reject(lastError);
    pending = discover().then(
      (c) => {
        current = c;
        pending = undefined;
        deps.logger.info({ issuer: cfg.issuerUrl }, 'OpenID provider discovered');
        return c;
      },
      (e: unknown) => {
        pending = undefined;
        failedAt = Date.now();
        lastError = e;
        deps.logger.error(
          { issuer: cfg.issuerUrl, err: e instanceof Error ? e.message : String(e) },
          'OpenID provider discovery failed',
        );
        throw e;
      },
    );
    return pending;
  };

  return {
    configuration,
    ready: () => current !== undefined,
    scope,
    warm: () => void configuration().catch(() => {}),
  };
}
