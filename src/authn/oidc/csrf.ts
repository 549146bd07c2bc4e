// The per-login CSRF cookie: <cookie>_csrf_<id>, sealed, short-lived; the `state` parameter names it, so tabs never clash.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { LRUCache } from 'lru-cache';
import { clearCookie, serializeCookie, type CookieAttributes, type CookieJar } from '../session/cookies.js';
import { createSealer, type Sealer } from '../session/seal.js';

const STATE = /^([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{32})$/;
/** More pending logins than this (abandoned tabs) and the oldest CSRF cookies are dropped. */
const MAX_PENDING = 4;

const loginSchema = z.object({
  s: z.string(),
  verifier: z.string(),
  nonce: z.string(),
  rd: z.string(),
  redirectUri: z.string(),
  t: z.number(),
});
export type PendingLogin = Omit<z.output<typeof loginSchema>, 's'>;

export interface CsrfCookies {
  /** A new state value and the Set-Cookie values: the CSRF cookie, plus deletions of abandoned ones. */
  issue(login: PendingLogin, cookies: CookieJar, host: string): { state: string; setCookies: string[] };
  /**
   * The pending login that `state` names, once: a second use of the same state (a replayed callback) gets
   * null, as do a missing, altered or expired cookie and a state that does not match it.
   */
  consume(state: string, cookies: CookieJar): { login: PendingLogin; cookieName: string } | null;
  clear(cookieName: string, host: string): string;
}

export function createCsrfCookies(
  secrets: readonly Buffer[],
  opts: { cookieName: string; attrs: CookieAttributes; expireMs: number },
): CsrfCookies {
  const sealer: Sealer = createSealer(secrets, 'csrf');
  const prefix = `${opts.cookieName}_csrf_`;
  // The IdP redirects back cross-site: a Strict cookie would not be sent, so CSRF cookies are Lax unless None was asked for.
  const sameSite = opts.attrs.sameSite === 'none' ? 'none' : 'lax';
  const used = new LRUCache<string, true>({ max: 100_000, ttl: opts.expireMs });

  const open = (name: string, value: string): z.output<typeof loginSchema> | null => {
    const plain = sealer.open(value, name);
    if (!plain) return null;
    try {
      const r = loginSchema.safeParse(JSON.parse(plain.toString('utf8')));
      return r.success ? r.data : null;
    } catch {
      return null;
    }
  };

  return {
    issue(login, cookies, host) {
      const id = randomBytes(9).toString('base64url');
      const secret = randomBytes(24).toString('base64url');
      const name = prefix + id;
      const value = sealer.seal(JSON.stringify({ s: secret, ...login }), name, login.t + opts.expireMs);
      const setCookies = [serializeCookie(name, value, opts.attrs, host, opts.expireMs, sameSite)];
      const pending: { name: string; t: number }[] = [];
      for (const [k, v] of cookies) {
        if (!k.startsWith(prefix)) continue;
        const p = open(k, v);
        if (!p) setCookies.push(clearCookie(k, opts.attrs, host));
        else pending.push({ name: k, t: p.t });
      }
      pending.sort((a, b) => b.t - a.t);
      for (const old of pending.slice(MAX_PENDING - 1)) setCookies.push(clearCookie(old.name, opts.attrs, host));
      return { state: `${id}.${secret}`, setCookies };
    },
    consume(state, cookies) {
      const m = STATE.exec(state);
      if (!m) return null;
      const name = prefix + m[1]!;
      const value = cookies.get(name);
      const login = value === undefined ? null : open(name, value);
      if (!login) return null;
      const a = Buffer.from(login.s);
      const b = Buffer.from(m[2]!);
      if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
      if (used.has(state)) return null;
      used.set(state, true);
      const { s: _s, ...rest } = login;
      return { login: rest, cookieName: name };
    },
    clear: (cookieName, host) => clearCookie(cookieName, opts.attrs, host),
  };
}
