// Refreshes a session's tokens at most once: concurrent requests share one refresh, replicas share a Redis lock.
import * as client from 'openid-client';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { OidcProvider } from '../oidc/provider.js';
import { classifyProviderError } from '../oidc/login.js';
import type { CookieJar } from './cookies.js';
import { sessionFromClaims, type ClaimNames, type SessionState } from './state.js';
import type { LoadedSession, SessionStore } from './store.js';

/** Refresh this long before the access token expires, so upstreams never see an expired one. */
export const EXPIRY_MARGIN_MS = 60_000;
const WAIT_STEP_MS = 100;
const WAIT_MAX_MS = 5500;

export interface Fresh {
  state: SessionState;
  setCookies: string[];
}

/** When the session is due for a refresh (cookie-refresh age, or the access token about to expire); Infinity without a refresh token. */
export function refreshDueAt(s: SessionState, refreshAfterMs: number): number {
  if (!s.refreshToken) return Infinity;
  const byAge = refreshAfterMs > 0 ? s.createdAt + refreshAfterMs : Infinity;
  const byToken = s.expiresAt !== undefined ? s.expiresAt - EXPIRY_MARGIN_MS : Infinity;
  // The token test is strict (refresh when under the margin), the age test inclusive.
  return Math.min(byAge, byToken === Infinity ? Infinity : byToken + 1);
}

export function needsRefresh(s: SessionState, refreshAfterMs: number, now: number): boolean {
  return now >= refreshDueAt(s, refreshAfterMs);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RefresherDeps {
  provider: OidcProvider;
  store: SessionStore;
  names: ClaimNames;
  refreshAfterMs: number;
  logger: Logger;
  /** The clock for refresh decisions and new session times (default Date.now). */
  now?: () => number;
}

export function createRefresher(deps: RefresherDeps) {
  const { provider, store, names, logger } = deps;
  const clock = deps.now ?? Date.now;
  const inflight = new Map<string, Promise<Fresh>>();
  // Requests still carrying the pre-refresh cookie (sent before the browser stored the new one) reuse the result.
  const recent = new LRUCache<string, { from: number; result: Fresh | GatewayError }>({ max: 50_000, ttl: 60_000 });

  const expired = (why: string) => new GatewayError('PG_AUTHN_TOKEN_EXPIRED', `session expired: ${why}`);
  const stillUsable = (s: SessionState) => s.expiresAt === undefined || s.expiresAt > clock();

  async function waitForOther(loaded: LoadedSession): Promise<Fresh> {
    for (let waited = 0; waited < WAIT_MAX_MS; waited += WAIT_STEP_MS) {
      await sleep(WAIT_STEP_MS);
      const other = await store.reload!(loaded);
      if (!other) throw expired('signed out');
      if (other.createdAt > loaded.state.createdAt) return { state: other, setCookies: [] };
    }
    if (stillUsable(loaded.state)) return { state: loaded.state, setCookies: [] };
    throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'session refresh by another replica did not finish');
  }

  async function redeem(loaded: LoadedSession, cookies: CookieJar, host: string): Promise<Fresh> {
    const old = loaded.state;
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(await provider.configuration(), old.refreshToken!);
    } catch (e) {
      const err = classifyProviderError(e, 'token refresh');
      if (err.code === 'PG_AUTHN_UNAVAILABLE') {
        logger.warn({ err: err.message }, 'token refresh failed; provider unavailable');
        if (stillUsable(old)) return { state: old, setCookies: [] };
        throw err;
      }
      logger.info({ user: old.user, err: err.message }, 'token refresh refused; ending the session');
      await store.clear(cookies, host, loaded).catch(() => {});
      throw expired('the provider refused the refresh token');
    }
    const newClaims = tokens.claims();
    if (newClaims && newClaims.sub !== old.claims.sub) throw expired('refreshed ID token is for another subject');
    const now = clock();
    const state = sessionFromClaims(
      newClaims ? { ...old.claims, ...newClaims } : old.claims,
      names,
      {
        idToken: tokens.id_token ?? old.idToken,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? old.refreshToken,
        expiresIn: tokens.expiresIn(),
      },
      now,
      { sid: old.sid, loginAt: old.loginAt },
    );
    return { state, setCookies: await store.update(loaded, state, cookies, host) };
  }

  async function refreshOnce(loaded: LoadedSession, cookies: CookieJar, host: string): Promise<Fresh> {
    if (!store.lock) return redeem(loaded, cookies, host);
    const release = await store.lock(loaded.key);
    if (!release) return waitForOther(loaded);
    try {
      // Another replica may have finished just before we took the lock.
      const current = await store.reload!(loaded);
      if (!current) throw expired('signed out');
      if (current.createdAt > loaded.state.createdAt) return { state: current, setCookies: [] };
      return await redeem(loaded, cookies, host);
    } finally {
      await release().catch(() => {});
    }
  }

  return {
    /** The session to use for this request, refreshed when due; throws PG_AUTHN_TOKEN_EXPIRED when it has ended. */
    async ensureFresh(loaded: LoadedSession, cookies: CookieJar, host: string, now = clock()): Promise<Fresh> {
      if (!needsRefresh(loaded.state, deps.refreshAfterMs, now)) return { state: loaded.state, setCookies: [] };
      const hit = recent.get(loaded.key);
      if (hit && loaded.state.createdAt <= hit.from) {
        if (hit.result instanceof GatewayError) throw hit.result;
        return hit.result;
      }
      let p = inflight.get(loaded.key);
      if (!p) {
        p = refreshOnce(loaded, cookies, host);
        inflight.set(loaded.key, p);
        const from = loaded.state.createdAt;
        p.then(
          (r) => {
            if (r.state !== loaded.state) recent.set(loaded.key, { from, result: r });
          },
          (e: unknown) => {
            if (e instanceof GatewayError && e.code === 'PG_AUTHN_TOKEN_EXPIRED')
              recent.set(loaded.key, { from, result: e });
          },
        ).finally(() => inflight.delete(loaded.key));
      }
      return p;
    },
  };
}

export type Refresher = ReturnType<typeof createRefresher>;
