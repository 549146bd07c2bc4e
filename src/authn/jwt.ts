// Bearer JWT authentication (Authorization: Bearer, or the Token header) against JWKS files and URLs.
import { ConfigError } from '../config/errors.js';
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { JwtAuthConfig } from '../config/schema-auth.js';
import { GatewayError, type ErrorCode } from '../errors.js';
import type { AuthRequest, Authenticator, Identity } from './identity.js';
import { createKeySet, type KeySet } from './jwks.js';
import type { SourceDeps } from './reloadable.js';

const MAX_TOKEN_BYTES = 16 * 1024;
const CACHE_MAX = 10_000;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface JwtDeps extends SourceDeps {
  /** First retry delay for a JWKS URL that cannot be fetched at start (default 1 s, doubling to 30 s). */
  jwksRetryMs?: number;
}

interface IssuerEntry {
  issuer?: string;
  audience?: string | string[];
  keys: KeySet;
}
interface CacheEntry {
  identity: Identity;
  until: number;
}

function fail(code: ErrorCode, description: string, cause?: unknown): GatewayError {
  // RFC 6750 §3: the description is a fixed phrase, never attacker-controlled text.
  return new GatewayError(code, `invalid bearer token: ${description}`, {
    cause,
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` },
  });
}

export function createJwtAuthenticator(cfg: JwtAuthConfig, deps: JwtDeps): Authenticator {
  if (!cfg.jwks && cfg.issuers.length === 0) throw ConfigError.at(['auth', 'jwt'], 'set jwks and/or issuers');
  const now = deps.now ?? Date.now;
  const tokenHeader = cfg.tokenHeader.toLowerCase();
  const cache = new LRUCache<string, CacheEntry>({ max: CACHE_MAX });
  // Key sets are shared by location; any key change drops cached tokens so a removed key stops working.
  const sets = new Map<string, KeySet>();
  const keySet = (location: string, source: string): KeySet => {
    let s = sets.get(location);
    if (!s) {
      const opts = {
        timeoutMs: cfg.remoteTimeout,
        cooldownMs: cfg.remoteCooldown,
        refreshMs: cfg.remoteCacheMaxAge,
        onChange: () => cache.clear(),
      };
      s = createKeySet(
        location,
        source,
        deps.jwksRetryMs === undefined ? opts : { ...opts, retryMs: deps.jwksRetryMs },
        deps,
      );
      sets.set(location, s);
    }
    return s;
  };
  const byIssuer = new Map<string, IssuerEntry>();
  cfg.issuers.forEach((i, n) => {
    const entry: IssuerEntry = { issuer: i.issuer, keys: keySet(i.jwks, `auth.jwt.issuers[${n}].jwks`) };
    if (i.audience !== undefined) entry.audience = i.audience;
    byIssuer.set(i.issuer, entry);
  });
  let fallback: IssuerEntry | undefined;
  if (cfg.jwks) {
    fallback = { keys: keySet(cfg.jwks, 'auth.jwt.jwks') };
    if (cfg.issuer !== undefined) fallback.issuer = cfg.issuer;
    if (cfg.audience !== undefined) fallback.audience = cfg.audience;
  }
  const allowed = new Set<string>(cfg.algorithms);

  function extract(req: AuthRequest): string | null {
    const auth = req.headers.authorization;
    if (auth !== undefined && /^bearer(?: |$)/i.test(auth)) {
      const t = auth.slice(6).trim();
      if (t === '') throw fail('PG_AUTHN_MALFORMED', 'empty bearer token');
      return t;
    }
    // Any other Authorization scheme (Basic) is left to its own authenticator; the Token header is
    // prometheus-multi-tenant-proxy's fallback.
    const raw = req.headers[tokenHeader];
    if (raw === undefined || raw === '') return null;
    if (typeof raw !== 'string') throw fail('PG_AUTHN_MALFORMED', 'several token headers');
    return raw.trim();
  }

  async function verify(token: string, key: string): Promise<Identity> {
    if (!JWS_COMPACT.test(token)) throw fail('PG_AUTHN_MALFORMED', 'not a compact JWS');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (e) {
      throw fail('PG_AUTHN_MALFORMED', 'undecodable token', e);
    }
    // Checked before any key is touched: `none`, algorithms not configured, and tokens without kid.
    if (typeof header.alg !== 'string' || header.alg.toLowerCase() === 'none')
      throw fail('PG_AUTHN_TOKEN_INVALID', 'unsigned tokens are refused');
    if (!allowed.has(header.alg)) throw fail('PG_AUTHN_TOKEN_INVALID', 'algorithm not allowed');
    if (typeof header.kid !== 'string' || header.kid === '') throw fail('PG_AUTHN_TOKEN_INVALID', 'token has no kid');
    // The issuer picks the key set; the signature check below then proves the issuer claim.
    const entry = (typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined) ?? fallback;
    if (!entry) throw fail('PG_AUTHN_TOKEN_INVALID', 'issuer not accepted');
    // Keys not loaded yet: getKey waits for a fetch in flight (start-up, a reload) and only then refuses with 503.
    let payload: JWTPayload;
    try {
      const opts = {
        currentDate: new Date(now()),
        algorithms: cfg.algorithms,
        clockTolerance: cfg.clockSkew / 1000,
        ...(entry.issuer !== undefined ? { issuer: entry.issuer } : {}),
        ...(entry.audience !== undefined ? { audience: entry.audience } : {}),
        ...(cfg.requireExp ? { requiredClaims: ['exp'] } : {}),
      };
      const getKey: JWTVerifyGetKey = (h, t) => entry.keys.getKey(h, t);
      ({ payload } = await jwtVerify(token, getKey, opts));
    } catch (e) {
      throw mapError(e, deps);
    }
    const identity = toIdentity(payload, cfg);
    const t = now();
    // Never remember a token past its own exp (plus the skew the check itself allowed).
    const until = Math.min(
      t + cfg.cacheTtl,
      typeof payload.exp === 'number' ? payload.exp * 1000 + cfg.clockSkew : Infinity,
    );
    if (until > t) cache.set(key, { identity, until });
    return identity;
  }

  return {
    method: 'jwt',
    authenticate(req: AuthRequest): Identity | null | Promise<Identity> {
      const token = extract(req);
      if (token === null) return null;
      if (token.length > MAX_TOKEN_BYTES) throw fail('PG_AUTHN_MALFORMED', 'token too large');
      // Hot path: a token verified recently costs one SHA-256 and a map lookup, not a signature check.
      const key = createHash('sha256').update(token).digest('base64');
      const hit = cache.get(key);
      if (hit !== undefined) {
        if (hit.until > now()) return hit.identity;
        cache.delete(key);
      }
      return verify(token, key);
    },
    ready: () => [...sets.values()].every((s) => s.ready()),
    async reload() {
      await Promise.all([...sets.values()].map((s) => s.reload()));
    },
    close() {
      for (const s of sets.values()) s.close();
    },
  };
}

/** jose's failures, mapped to stable codes; anything unexpected is still a 401, never a 500. */
function mapError(e: unknown, deps: SourceDeps): GatewayError {
  if (e instanceof GatewayError) return e;
  if (e instanceof errors.JWTExpired) return fail('PG_AUTHN_TOKEN_EXPIRED', 'token expired', e);
  if (e instanceof errors.JWTClaimValidationFailed) {
    const what: Record<string, string> = {
      nbf: 'token not yet valid',
      iss: 'issuer not accepted',
      aud: 'audience not accepted',
      exp: 'token has no exp',
    };
    return fail('PG_AUTHN_TOKEN_INVALID', what[e.claim] ?? 'claim check failed', e);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return fail('PG_AUTHN_TOKEN_INVALID', 'signature invalid', e);
  if (e instanceof errors.JWKSNoMatchingKey)
    return fail('PG_AUTHN_TOKEN_INVALID', 'no key matches the kid and algorithm', e);
  if (e instanceof errors.JOSEAlgNotAllowed) return fail('PG_AUTHN_TOKEN_INVALID', 'algorithm not allowed', e);
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid)
    return fail('PG_AUTHN_MALFORMED', 'malformed token', e);
  deps.logger.warn({ err: e }, 'unexpected error while verifying a token');
  return fail('PG_AUTHN_TOKEN_INVALID', 'token not accepted', e);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function toIdentity(payload: JWTPayload, cfg: JwtAuthConfig): Identity {
  const str = (name: string): string | undefined => {
    const v = payload[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const sub = str('sub');
  const user = str(cfg.userClaim) ?? sub ?? '';
  const g = payload[cfg.groupsClaim];
  // A single string is one group; any other shape yields no groups rather than a guess.
  const groups =
    typeof g === 'string' ? [g] : Array.isArray(g) && g.every((x) => typeof x === 'string') ? [...(g as string[])] : [];
  const email = str(cfg.emailClaim);
  const identity: Identity = {
    subject: sub ?? user,
    user,
    groups: Object.freeze(groups),
    claims: deepFreeze(payload),
    method: 'jwt',
    ...(email !== undefined ? { email } : {}),
  };
  return Object.freeze(identity);
}
