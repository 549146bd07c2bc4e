// The session store contract, and the default store that keeps the whole sealed session in (chunked) cookies.
import type { OidcConfig } from '../../config/schema-auth.js';
import { clearCookie, serializeCookie, type CookieAttributes, type CookieJar } from './cookies.js';
import { cookieNamesOf, joinCookieValue, splitCookieValue, staleCookieNames } from './chunk.js';
import { createSealer } from './seal.js';
import { decodeSession, encodeSession, type SessionState } from './state.js';

export interface LoadedSession {
  state: SessionState;
  /** Identifies the session across requests (refresh coalescing and locking). */
  key: string;
}

export interface SessionStore {
  readonly kind: 'cookie' | 'redis';
  /** null when the client holds no session, or one that is expired, tampered or sealed with an unknown key. */
  load(cookies: CookieJar, now?: number): Promise<LoadedSession | null>;
  /** Stores a new session (after login); the Set-Cookie values to send. */
  create(state: SessionState, cookies: CookieJar, host: string): Promise<string[]>;
  /** Stores a refreshed session in place of `loaded`; Set-Cookie values (none when the cookie stays the same). */
  update(loaded: LoadedSession, state: SessionState, cookies: CookieJar, host: string): Promise<string[]>;
  /** Ends the session everywhere the store can; Set-Cookie values that delete the cookies. */
  clear(cookies: CookieJar, host: string, loaded?: LoadedSession | null): Promise<string[]>;
  /** Shared stores only: re-read a session another replica may have refreshed. */
  reload?(loaded: LoadedSession): Promise<SessionState | null>;
  /** Shared stores only: a short cross-replica lock; the release function, or null when someone else holds it. */
  lock?(key: string): Promise<(() => Promise<void>) | null>;
  ready(): boolean;
  close(): Promise<void>;
}

export interface StoreOptions {
  cookieName: string;
  attrs: CookieAttributes;
  /** Absolute session lifetime from login (cookie-expire). */
  expireMs: number;
}

export function storeOptions(cfg: OidcConfig): StoreOptions {
  const c = cfg.cookie;
  return {
    cookieName: c.name,
    attrs: { domains: c.domains, path: c.path, secure: c.secure, sameSite: c.sameSite },
    expireMs: c.expire,
  };
}

export function sessionEnd(state: SessionState, expireMs: number): number {
  return state.loginAt + expireMs;
}

/** Set-Cookie values writing `value` under the store's cookie name, chunked, and clearing chunks left over. */
export function writeCookieValue(
  opts: StoreOptions,
  value: string,
  maxAgeMs: number,
  cookies: CookieJar,
  host: string,
): string[] {
  const parts = splitCookieValue(opts.cookieName, value);
  const out = parts.map((p) => serializeCookie(p.name, p.value, opts.attrs, host, maxAgeMs));
  for (const stale of staleCookieNames(cookies, opts.cookieName, parts)) out.push(clearCookie(stale, opts.attrs, host));
  return out;
}

export function clearCookieValues(opts: StoreOptions, cookies: CookieJar, host: string): string[] {
  const names = new Set([opts.cookieName, ...cookieNamesOf(cookies, opts.cookieName)]);
  return [...names].map((n) => clearCookie(n, opts.attrs, host));
}

export function createCookieStore(
  secrets: readonly Buffer[],
  opts: StoreOptions,
  clock: () => number = Date.now,
): SessionStore {
  const sealer = createSealer(secrets, 'session');
  const write = (state: SessionState, cookies: CookieJar, host: string): string[] => {
    const end = sessionEnd(state, opts.expireMs);
    return writeCookieValue(
      opts,
      sealer.seal(encodeSession(state), opts.cookieName, end),
      end - clock(),
      cookies,
      host,
    );
  };
  return {
    kind: 'cookie',
    async load(cookies, now = clock()) {
      const value = joinCookieValue(cookies, opts.cookieName);
      if (value === undefined) return null;
      const plain = sealer.open(value, opts.cookieName, now);
      const state = plain && decodeSession(plain);
      if (!state || sessionEnd(state, opts.expireMs) <= now) return null;
      return { state, key: `c:${state.sid}` };
    },
    create: async (state, cookies, host) => write(state, cookies, host),
    update: async (_loaded, state, cookies, host) => write(state, cookies, host),
    clear: async (cookies, host) => clearCookieValues(opts, cookies, host),
    ready: () => true,
    close: async () => {},
  };
}
