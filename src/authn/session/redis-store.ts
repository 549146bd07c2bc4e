// Server-side sessions in Redis: the cookie carries only a sealed ticket <id>.<key>; Redis holds the session encrypted with <key>.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { loadRedis } from '../../lib/redis.js';

import type { CookieJar } from './cookies.js';
import { joinCookieValue } from './chunk.js';
import { createSealer, decodeSealed, openWithKey, sealWithKey } from './seal.js';
import { decodeSession, encodeSession, type SessionState } from './state.js';
import {
  clearCookieValues,
  sessionEnd,
  writeCookieValue,
  type LoadedSession,
  type SessionStore,
  type StoreOptions,
} from './store.js';

const TICKET = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const LOCK_MS = 5000;
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

interface Ticket {
  id: string;
  key: Buffer;
}

export interface RedisStoreOptions extends StoreOptions {
  url: string;
  keyPrefix: string;
  /** An existing client (tests, or one shared with other features); closed only when we created it. */
  client?: Redis;
  /** The clock for session ends and TTLs (default Date.now). */
  now?: () => number;
}

export function createRedisStore(secrets: readonly Buffer[], opts: RedisStoreOptions): SessionStore {
  const sealer = createSealer(secrets, 'redis-ticket');
  const redis =
    opts.client ??
    new (loadRedis())(opts.url, { maxRetriesPerRequest: 1, connectTimeout: 5000, enableReadyCheck: true });
  if (!opts.client) redis.on('error', () => {}); // state is visible through ready(); errors surface on the commands
  const dataKey = (id: string) => `${opts.keyPrefix}${id}`;
  const clock = opts.now ?? Date.now;

  const readTicket = (cookies: CookieJar, now: number): Ticket | null => {
    const value = joinCookieValue(cookies, opts.cookieName);
    const plain = value === undefined ? null : sealer.open(value, opts.cookieName, now);
    const m = plain && TICKET.exec(plain.toString('utf8'));
    return m ? { id: m[1]!, key: Buffer.from(m[2]!, 'base64url') } : null;
  };
  const readState = async (t: Ticket, now: number): Promise<SessionState | null> => {
    const stored = await redis.get(dataKey(t.id));
    const raw = stored === null ? null : decodeSealed(stored);
    const plain = raw && openWithKey(t.key, raw, t.id, now);
    const state = plain && decodeSession(plain);
    return state && sessionEnd(state, opts.expireMs) > now ? state : null;
  };
  const tickets = new WeakMap<LoadedSession, Ticket>();

  return {
    kind: 'redis',
    async load(cookies, now = clock()) {
      const t = readTicket(cookies, now);
      if (!t) return null;
      const state = await readState(t, now);
      if (!state) return null;
      const loaded = { state, key: `r:${t.id}` };
      tickets.set(loaded, t);
      return loaded;
    },
    async create(state, cookies, host) {
      const t: Ticket = { id: randomBytes(16).toString('base64url'), key: randomBytes(32) };
      const end = sessionEnd(state, opts.expireMs);
      const ttl = end - clock();
      if (ttl <= 0) return [];
      await redis.set(dataKey(t.id), sealWithKey(t.key, encodeSession(state), t.id, end), 'PX', ttl);
      const ticket = sealer.seal(`${t.id}.${t.key.toString('base64url')}`, opts.cookieName, end);
      return writeCookieValue(opts, ticket, ttl, cookies, host);
    },
    async update(loaded, state) {
      const t = tickets.get(loaded);
      const end = sessionEnd(state, opts.expireMs);
      const ttl = end - clock();
      // XX: a session signed out meanwhile (on any replica) must not come back to life.
      if (t && ttl > 0)
        await redis.set(dataKey(t.id), sealWithKey(t.key, encodeSession(state), t.id, end), 'PX', ttl, 'XX');
      return [];
    },
    async reload(loaded) {
      const t = tickets.get(loaded);
      return t ? readState(t, clock()) : null;
    },
    async clear(cookies, host, loaded) {
      const t = (loaded && tickets.get(loaded)) ?? readTicket(cookies, clock());
      if (t) await redis.del(dataKey(t.id));
      return clearCookieValues(opts, cookies, host);
    },
    async lock(key) {
      const name = `${opts.keyPrefix}lock:${key}`;
      const token = randomBytes(12).toString('base64url');
      const ok = await redis.set(name, token, 'PX', LOCK_MS, 'NX');
      if (ok !== 'OK') return null;
      return async () => {
        await redis.eval(RELEASE, 1, name, token);
      };
    },
    ready: () => redis.status === 'ready',
    async close() {
      if (!opts.client) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
