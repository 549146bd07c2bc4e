// The `session` authenticator: OIDC login sessions from cookies, refreshed when due, turned into an Identity.
import { ConfigError } from '../../config/errors.js';
import type { IncomingHttpHeaders } from 'node:http';
import { hash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Redis } from 'ioredis';
import type { CustomFetch } from 'openid-client';
import { GatewayError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { OidcConfig } from '../../config/schema-auth.js';
import type { Authenticator, AuthRequest, Identity } from '../identity.js';
import { createOidcProvider, type OidcProvider } from '../oidc/provider.js';
import { createCsrfCookies } from '../oidc/csrf.js';
import { createLoginFlow, type LoginFlow, type LoginResult } from '../oidc/login.js';
import { parseCookies, hostOnly, type CookieJar } from './cookies.js';
import { loadCookieSecrets } from './secret.js';
import {
  clearCookieValues,
  createCookieStore,
  sessionEnd,
  storeOptions,
  type LoadedSession,
  type SessionStore,
} from './store.js';
import { cookieNamesOf, joinCookieValue } from './chunk.js';
import { createRedisStore } from './redis-store.js';
import { createRefresher, refreshDueAt } from './refresh.js';
import { claimAt, sessionFromClaims, type ClaimNames, type SessionState } from './state.js';

export interface SessionAuthDeps {
  logger: Logger;
  /** A Redis client to use instead of connecting to cfg.redisUrl. */
  redis?: Redis;
  /** Custom fetch for the provider (tests, proxies). */
  fetch?: CustomFetch;
  /** Tenant or route rules look at groups: ask for the groups scope even without allowedGroups. */
  groupsUsed?: boolean;
  /**
   * The sign-in rules (email domains, allowed emails and groups), checked at sign-in and at every refresh.
   * Given by the caller (authz/allowed.ts signInCheck) so that authn depends on no authorization code.
   */
  allowed: (who: { email?: string; groups: readonly string[] }) => boolean;
  /** The clock for session times, refresh and the opened-cookie cache (default Date.now); tests move one by hand. */
  now?: () => number;
}

export interface SessionAuthenticator extends Authenticator {
  readonly method: 'session';
  readonly store: SessionStore;
  readonly provider: OidcProvider;
  readonly login: LoginFlow;
  /** The sign-in rules this authenticator checks (see SessionAuthDeps.allowed). */
  allowed(who: { email?: string; groups: readonly string[] }): boolean;
  ready(): boolean;
  close(): Promise<void>;
  identityOf(state: SessionState, setCookies?: string[]): Identity;
  /** Turns a finished login into a stored session; throws PG_AUTHN_LOGIN_FAILED (403) when the user is not allowed. */
  createSession(
    result: LoginResult,
    headers: IncomingHttpHeaders,
  ): Promise<{ state: SessionState; setCookies: string[] }>;
  /** Ends the session (Redis: on every replica); the cookies to clear and the ID token for RP-initiated logout. */
  endSession(headers: IncomingHttpHeaders): Promise<{ setCookies: string[]; idToken?: string }>;
  /** Set-Cookie values deleting whatever session cookies the request carries (after a refused session); [] when it has none. */
  clearCookies(headers: IncomingHttpHeaders): string[];
}

/** Longest time an opened session cookie's identity is reused without opening the cookie again. */
const OPENED_TTL_MS = 30_000;

/** The host the browser used: X-Forwarded-Host (auth subrequests), else Host. Only picks among configured cookie domains. */
export function cookieHost(headers: IncomingHttpHeaders): string {
  const fwd = headers['x-forwarded-host'];
  const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
  return hostOnly(first || headers.host);
}

/** CSRF cookies only matter to start and callback: scope them to the prefix (or the callback's folder when it lies elsewhere). */
function csrfPath(cfg: OidcConfig): string {
  const prefix = cfg.proxyPrefix.replace(/\/+$/, '') || '/';
  if (!cfg.redirectUrl) return prefix;
  const cb = new URL(cfg.redirectUrl, 'http://promgate.invalid').pathname;
  return cb.startsWith(prefix + '/') ? prefix : '/';
}

export function createSessionAuthenticator(cfg: OidcConfig, deps: SessionAuthDeps): SessionAuthenticator {
  const clock = deps.now ?? Date.now;
  const secrets = loadCookieSecrets(cfg.cookie);
  const opts = storeOptions(cfg);
  if (cfg.sessionStore === 'redis' && !cfg.redisUrl && !deps.redis)
    throw ConfigError.at(['auth', 'oidc', 'redisUrl'], 'is required with sessionStore: redis');
  const store: SessionStore =
    cfg.sessionStore === 'redis'
      ? createRedisStore(secrets, {
          ...opts,
          url: cfg.redisUrl ?? '',
          keyPrefix: cfg.redisKeyPrefix,
          client: deps.redis,
          now: clock,
        })
      : createCookieStore(secrets, opts, clock);
  const provider = createOidcProvider(cfg, { logger: deps.logger, fetch: deps.fetch, groupsUsed: deps.groupsUsed });
  const names: ClaimNames = { userClaim: cfg.userClaim, emailClaim: cfg.emailClaim, groupsClaim: cfg.groupsClaim };
  const allowed = deps.allowed;
  const csrf = createCsrfCookies(secrets, {
    cookieName: opts.cookieName,
    attrs: { ...opts.attrs, path: csrfPath(cfg) },
    expireMs: cfg.cookie.csrfExpire,
  });
  // Providers that keep email or groups out of the ID token (conformant code flow) still have them at userinfo.
  const login = createLoginFlow(provider, csrf, {
    fetchUserinfo: (c) => claimAt(c, cfg.emailClaim) === undefined || claimAt(c, cfg.groupsClaim) === undefined,
  });
  const refresher = createRefresher({
    provider,
    store,
    names,
    refreshAfterMs: cfg.cookie.refresh,
    logger: deps.logger,
    now: clock,
  });

  const identityOf = (s: SessionState, setCookies?: string[]): Identity => {
    const id: Identity = {
      subject: typeof s.claims.sub === 'string' ? s.claims.sub : s.user,
      user: s.user,
      email: s.email,
      groups: s.groups,
      claims: s.claims,
      method: 'session',
      tokens: { accessToken: s.accessToken, idToken: s.idToken },
    };
    if (setCookies && setCookies.length > 0) id.setCookies = setCookies;
    return id;
  };

  // Cookie store only: the sealed cookie itself is the session, so the same cookie text opens to the same
  // session until it is due for refresh or ends. Its identity is kept (keyed by a digest of the text) for
  // at most OPENED_TTL_MS, so the common request skips AES-GCM, JSON and schema checks and reuses one frozen
  // Identity. Not for Redis: a sign-out on another replica must end the session at once.
  const opened = new LRUCache<string, { identity: Identity; until: number }>({ max: 10_000 });

  async function slowAuthenticate(
    req: AuthRequest,
    cookies: CookieJar,
    openedKey: string | undefined,
  ): Promise<Identity | null> {
    const loaded = await load(cookies);
    if (!loaded) return null;
    const fresh = await refresher.ensureFresh(loaded, cookies, cookieHost(req.headers)).catch((e: unknown) => {
      throw e instanceof GatewayError
        ? e
        : new GatewayError('PG_AUTHN_UNAVAILABLE', 'session refresh failed', { cause: e });
    });
    // Rules are checked on every load, so tightening them (a reload, which builds a new authenticator and so
    // an empty cache) takes effect without waiting for cookies to expire.
    if (!allowed(fresh.state))
      throw new GatewayError('PG_AUTHZ_DENIED', 'this user is not allowed by the sign-in rules');
    const identity = identityOf(fresh.state, fresh.setCookies);
    if (openedKey !== undefined && fresh.setCookies.length === 0) {
      const now = clock();
      const until = Math.min(
        now + OPENED_TTL_MS,
        refreshDueAt(fresh.state, cfg.cookie.refresh),
        sessionEnd(fresh.state, opts.expireMs),
      );
      if (until > now) opened.set(openedKey, { identity: Object.freeze(identity), until });
    }
    return identity;
  }

  const load = async (cookies: CookieJar): Promise<LoadedSession | null> => {
    try {
      return await store.load(cookies);
    } catch (e) {
      throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'session store unavailable', { cause: e });
    }
  };

  return {
    method: 'session',
    store,
    provider,
    login,
    allowed,
    identityOf,
    authenticate(req: AuthRequest): Identity | null | Promise<Identity | null> {
      const cookies = parseCookies(req.headers);
      if (cookies.size === 0) return null;
      let openedKey: string | undefined;
      if (store.kind === 'cookie') {
        const value = joinCookieValue(cookies, opts.cookieName);
        if (value === undefined) return null;
        openedKey = hash('sha256', value, 'base64');
        const hit = opened.get(openedKey);
        if (hit !== undefined && hit.until > clock()) return hit.identity;
      }
      return slowAuthenticate(req, cookies, openedKey);
    },
    async createSession(result, headers) {
      if (result.claims.email_verified === false && !cfg.allowUnverifiedEmail) {
        throw new GatewayError('PG_AUTHN_LOGIN_FAILED', 'the provider says this email address is not verified');
      }
      const state = sessionFromClaims(result.claims, names, result.tokens, clock());
      state.sid = randomBytes(16).toString('base64url');
      if (!allowed(state))
        throw new GatewayError('PG_AUTHN_LOGIN_FAILED', 'this user is not allowed by the sign-in rules');
      const cookies = parseCookies(headers);
      try {
        return { state, setCookies: await store.create(state, cookies, cookieHost(headers)) };
      } catch (e) {
        throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'session store unavailable', { cause: e });
      }
    },
    async endSession(headers) {
      const cookies = parseCookies(headers);
      const loaded = await store.load(cookies).catch(() => null);
      const setCookies = await store.clear(cookies, cookieHost(headers), loaded).catch(() => []);
      return { setCookies, idToken: loaded?.state.idToken };
    },
    clearCookies(headers) {
      const cookies = parseCookies(headers);
      if (cookieNamesOf(cookies, opts.cookieName).length === 0) return [];
      return clearCookieValues(opts, cookies, cookieHost(headers));
    },
    ready: () => provider.ready() && store.ready(),
    close: () => store.close(),
  };
}
