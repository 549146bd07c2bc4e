// Scenario c's credential: a session cookie sealed with promgate's own cookie store and secret, plus the per-request cost of opening it.
import { randomBytes } from 'node:crypto';
import { authSchema } from '../src/config/schema-auth.js';
import { parseCookies } from '../src/authn/session/cookies.js';
import { parseCookieSecret } from '../src/authn/session/secret.js';
import { createCookieStore, storeOptions } from '../src/authn/session/store.js';
import { median } from './measure.js';
import { TENANT_NS } from './fixtures.js';

/** The auth.oidc block the session gateway runs with. The issuer is never contacted: a valid cookie needs no provider. */
export function oidcConfig(secret: string): Record<string, unknown> {
  return {
    issuerUrl: 'http://127.0.0.1:9/bench-issuer',
    clientId: 'promgate-bench',
    clientSecret: 'unused',
    insecure: true,
    cookie: { secret: [secret], secure: false },
  };
}

export function newCookieSecret(): string {
  return randomBytes(32).toString('base64');
}

function store(secret: string) {
  const cfg = authSchema.parse({ oidc: oidcConfig(secret) }).oidc!;
  return createCookieStore([parseCookieSecret(secret)], storeOptions(cfg));
}

/** A logged-in session as the login flow stores it (tokens included, so the cookie has a realistic size). */
function session() {
  const now = Date.now();
  return {
    sid: randomBytes(16).toString('base64url'),
    user: 'alice',
    email: 'alice@example.com',
    groups: ['viewers'],
    preferredUsername: 'alice',
    idToken: 'h.'.padEnd(900, 'i'),
    accessToken: 'a.'.padEnd(900, 'c'),
    refreshToken: 'r'.repeat(200),
    expiresAt: now + 3_600_000,
    createdAt: now,
    loginAt: now,
    claims: { sub: 'alice', preferred_username: 'alice', email: 'alice@example.com', namespaces: [TENANT_NS] },
  };
}

/** The Cookie header value carrying a fresh sealed session. */
export async function mintSessionCookie(secret: string): Promise<string> {
  const set = await store(secret).create(session(), new Map(), '127.0.0.1');
  return set.map((c) => c.split(';')[0]).join('; ');
}

/** Median µs of one store.load() (AES-GCM open, JSON parse, schema check), which every session request pays. */
export async function sessionLoadMicros(cookie: string, secret: string, samples = 5000): Promise<number> {
  const s = store(secret);
  const jar = parseCookies({ cookie });
  const times: number[] = [];
  for (let i = 0; i < samples + 500; i++) {
    const t0 = performance.now();
    const loaded = await s.load(jar);
    const dt = (performance.now() - t0) * 1000;
    if (!loaded) throw new Error('the sealed session did not open');
    if (i >= 500) times.push(dt);
  }
  return median(times);
}
