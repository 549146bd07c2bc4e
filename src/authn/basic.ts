// HTTP Basic authentication against a users file and/or an htpasswd file, with a keyed credential cache.
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { hash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { BasicAuthConfig } from '../config/schema-auth.js';
import { GatewayError } from '../errors.js';
import { parseHtpasswd, type HtpasswdEntry } from './htpasswd.js';
import type { AuthRequest, Authenticator, Identity } from './identity.js';
import { dummyLike, verifyStored, type StoredPassword } from './password.js';
import { createReloadableFile, FileConfigError, type ReloadableFile, type SourceDeps } from './reloadable.js';
import { parseUsersFile, type UsersFileEntry } from './users-file.js';

/** RFC 7617 caps nothing, but a credential longer than this is an attack or a mistake. */
const MAX_CREDENTIAL_BYTES = 4096;
const MAX_B64 = Math.ceil(MAX_CREDENTIAL_BYTES / 3) * 4;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const CACHE_MAX = 10_000;

interface UserRecord {
  identity: Identity;
  stored: StoredPassword;
}
/** One immutable view of both files; a reload swaps it whole. */
interface Snapshot {
  users: ReadonlyMap<string, UserRecord>;
  dummy: StoredPassword;
}
interface CacheEntry {
  identity: Identity;
  expires: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function createBasicAuthenticator(cfg: BasicAuthConfig, deps: SourceDeps): Authenticator {
  if (!cfg.usersFile && !cfg.htpasswdFile) throw ConfigError.at(['auth', 'basic'], 'set usersFile and/or htpasswdFile');
  const now = deps.now ?? Date.now;
  const realm = cfg.realm.replace(/[\\"]/g, '\\$&');
  const challenge = { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"` };
  const malformed = (why: string): GatewayError =>
    new GatewayError('PG_AUTHN_MALFORMED', `malformed Basic credentials: ${why}`, { headers: challenge });
  const badCredentials = (): GatewayError =>
    new GatewayError('PG_AUTHN_BAD_CREDENTIALS', 'invalid username or password', { headers: challenge });

  // The cache key is SHA-256 over a per-process random secret and the credential text: the cache never
  // holds a password or a hash that could be attacked offline (the secret never leaves memory), and only
  // successful checks are stored (failures are not cached). One-shot hash() costs a fraction of an HMAC.
  const cacheSecret = randomBytes(32).toString('base64');
  const cache = new LRUCache<string, CacheEntry>({ max: CACHE_MAX });
  // Grafana opens many parallel queries with the same credentials; one hash check serves all of them.
  const inflight = new Map<string, Promise<Identity | null>>();

  let usersEntries: readonly UsersFileEntry[] = [];
  let htEntries: readonly HtpasswdEntry[] = [];
  let snapshot: Snapshot = { users: new Map(), dummy: dummyLike(undefined) };
  let warnedPlaintext = '';

  function publish(u: readonly UsersFileEntry[], h: readonly HtpasswdEntry[]): void {
    const next = buildSnapshot(u, h);
    const plain = u.filter((e) => e.password.kind === 'plaintext').map((e) => e.username);
    if (plain.length > 0 && plain.join('\n') !== warnedPlaintext) {
      deps.logger.warn({ users: plain }, 'users file has plaintext passwords; hash them with `promgate hash-password`');
    }
    warnedPlaintext = plain.join('\n');
    snapshot = next;
    usersEntries = u;
    htEntries = h;
    cache.clear();
  }

  const files: ReloadableFile<unknown>[] = [];
  if (cfg.usersFile) {
    const path = cfg.usersFile;
    files.push(
      createReloadableFile({
        source: 'auth.basic.usersFile',
        path,
        deps,
        parse: (text) => parseUsersFile(text, path, { plaintextAllowed: cfg.allowPlaintext }),
        commit: (next) => publish(next, htEntries),
      }),
    );
  }
  if (cfg.htpasswdFile) {
    const path = cfg.htpasswdFile;
    files.push(
      createReloadableFile({
        source: 'auth.basic.htpasswdFile',
        path,
        deps,
        parse: (text) => parseHtpasswd(text, path),
        commit: (next) => publish(usersEntries, next),
      }),
    );
  }

  async function verify(key: string, raw: Buffer): Promise<Identity | null> {
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      throw malformed('not UTF-8');
    }
    const colon = text.indexOf(':');
    if (colon < 0) throw malformed('no ":" between user and password');
    const username = text.slice(0, colon);
    const password = text.slice(colon + 1);
    const snap = snapshot;
    const rec = snap.users.get(username);
    // An unknown user still pays for one hash check, so timing does not reveal who exists.
    const ok = await verifyStored(password, rec ? rec.stored : snap.dummy);
    if (!rec || !ok) {
      deps.logger.debug({ user: username, reason: rec ? 'wrong password' : 'unknown user' }, 'basic auth refused');
      return null;
    }
    // A reload during the check may have removed the user: cache only against the snapshot still in force.
    if (cfg.cacheTtl > 0 && snap === snapshot)
      cache.set(key, { identity: rec.identity, expires: now() + cfg.cacheTtl });
    return rec.identity;
  }

  async function slowPath(key: string, raw: Buffer): Promise<Identity> {
    let p = inflight.get(key);
    if (!p) {
      p = verify(key, raw).finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    const identity = await p;
    if (!identity) throw badCredentials();
    return identity;
  }

  return {
    method: 'basic',
    authenticate(req: AuthRequest): Identity | null | Promise<Identity> {
      const header = req.headers.authorization;
      if (header === undefined) return null;
      const sp = header.indexOf(' ');
      const scheme = sp < 0 ? header : header.slice(0, sp);
      // RFC 7617 / RFC 7235: the scheme name is case-insensitive.
      if (scheme.length !== 5 || scheme.toLowerCase() !== 'basic') return null;
      const value = sp < 0 ? '' : header.slice(sp + 1).trim();
      if (value === '') throw malformed('empty value');
      if (value.length > MAX_B64) throw malformed(`credentials over ${MAX_CREDENTIAL_BYTES} bytes`);
      if (!B64.test(value) || value.length % 4 === 1) throw malformed('not base64');
      // Hot path: a cached credential costs one SHA-256 and one map lookup, no decoding and no password check.
      const key = hash('sha256', cacheSecret + value, 'base64');
      const hit = cache.get(key);
      if (hit !== undefined) {
        if (hit.expires > now()) return hit.identity;
        cache.delete(key);
      }
      return slowPath(key, Buffer.from(value, 'base64'));
    },
    ready: () => true,
    async reload() {
      for (const f of files) await f.reload();
    },
    close() {
      for (const f of files) f.close();
    },
  };
}

/** What building the authenticator would refuse in its files (unreadable, malformed, a user in both), with key paths. */
export function basicFileProblems(cfg: BasicAuthConfig): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const read = <T>(key: 'usersFile' | 'htpasswdFile', parse: (text: string, path: string) => T[]): T[] => {
    const path = cfg[key];
    if (path === undefined) return [];
    try {
      return parse(readFileSync(path, 'utf8'), path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const message =
        err instanceof FileConfigError
          ? err.problems.join('; ')
          : `cannot read "${path}": ${err.code === 'ENOENT' ? 'no such file' : err.message}`;
      out.push({ path: ['auth', 'basic', key], message });
      return [];
    }
  };
  const users = read('usersFile', (t, p) => parseUsersFile(t, p, { plaintextAllowed: cfg.allowPlaintext }));
  const ht = read('htpasswdFile', parseHtpasswd);
  try {
    buildSnapshot(users, ht);
  } catch (e) {
    out.push({ path: ['auth', 'basic', 'htpasswdFile'], message: (e as Error).message });
  }
  return out;
}

/** Build the lookup table; a username in both files is refused rather than guessed. */
function buildSnapshot(u: readonly UsersFileEntry[], h: readonly HtpasswdEntry[]): Snapshot {
  const users = new Map<string, UserRecord>();
  for (const e of u) {
    const claims = Object.freeze({
      namespaces: Object.freeze([...e.namespaces]),
      labels: Object.freeze(
        Object.fromEntries(
          Object.entries(e.labels).map(([k, v]) => [k, typeof v === 'string' ? v : Object.freeze([...v])]),
        ),
      ),
    });
    users.set(e.username, { stored: e.password, identity: freezeIdentity(e.username, claims) });
  }
  for (const e of h) {
    if (users.has(e.username))
      throw new FileConfigError([
        `user "${e.username}" is in both the users file and the htpasswd file (line ${e.line}); keep one`,
      ]);
    // htpasswd users carry no tenant of their own: tenants.rules maps them.
    users.set(e.username, { stored: e.password, identity: freezeIdentity(e.username, Object.freeze({})) });
  }
  // Unknown users are checked against a hash as costly as the first real one (see password.ts).
  const like =
    [...users.values()].find((r) => r.stored.kind !== 'plaintext')?.stored ?? users.values().next().value?.stored;
  return { users, dummy: dummyLike(like) };
}

function freezeIdentity(username: string, claims: Readonly<Record<string, unknown>>): Identity {
  return Object.freeze({
    subject: username,
    user: username,
    groups: Object.freeze([]),
    claims,
    method: 'basic' as const,
  });
}
