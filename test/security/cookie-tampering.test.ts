// Prevents forged or altered session cookies: bit flips, truncation, chunk games, foreign keys, purpose confusion, expiry.
import { signInCheck } from '../../src/authz/allowed.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { authSchema } from '../../src/config/schema-auth.js';
import { createSessionAuthenticator } from '../../src/authn/session/authenticator.js';
import { createSealer } from '../../src/authn/session/seal.js';
import { parseCookieSecret } from '../../src/authn/session/secret.js';
import { encodeSession, sessionFromClaims, type SessionState } from '../../src/authn/session/state.js';

const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });

function gateway(secrets: string[]) {
  const cfg = authSchema.parse({
    oidc: {
      issuerUrl: 'http://127.0.0.1:9',
      clientId: 'c',
      clientSecret: 's',
      insecure: true,
      cookie: { secret: secrets, secure: false },
    },
  }).oidc!;
  return createSessionAuthenticator(cfg, { logger, allowed: signInCheck(cfg) });
}

function state(extra: Record<string, unknown> = {}, loginAt = Date.now()): SessionState {
  const s = sessionFromClaims(
    { sub: 's1', email: 'alice@example.com', preferred_username: 'alice', ...extra },
    { userClaim: 'preferred_username', emailClaim: 'email', groupsClaim: 'groups' },
    { idToken: 'i.d.t' },
    loginAt,
  );
  s.sid = randomBytes(16).toString('base64url');
  s.loginAt = loginAt;
  return s;
}

/** The Cookie header a browser sends after these Set-Cookie values. */
function cookieHeader(setCookies: string[]): string {
  return setCookies
    .filter((c) => !c.includes('Max-Age=0'))
    .map((c) => c.split(';')[0])
    .join('; ');
}

async function who(gw: ReturnType<typeof gateway>, cookie: string): Promise<string | null> {
  try {
    return (await gw.authenticate({ headers: { cookie }, path: '/' }))?.user ?? null;
  } catch {
    return null;
  }
}

const S1 = randomBytes(32).toString('base64');
const S2 = randomBytes(32).toString('base64');

test('a genuine cookie works; every single-bit change and every truncation is refused', async () => {
  const gw = gateway([S1]);
  const header = cookieHeader(await gw.store.create(state(), new Map(), 'h'));
  assert.equal(await who(gw, header), 'alice');
  const [name, value] = header.split('=') as [string, string];
  const raw = Buffer.from(value, 'base64url');
  for (let i = 0; i < raw.length; i++) {
    const t = Buffer.from(raw);
    t[i] = t[i]! ^ (1 << (i % 8));
    assert.equal(await who(gw, `${name}=${t.toString('base64url')}`), null, `byte ${i}`);
  }
  for (let cut = 0; cut < value.length; cut += 9) assert.equal(await who(gw, `${name}=${value.slice(0, cut)}`), null);
  assert.equal(await who(gw, `${name}=${value}A`), null, 'appended data');
});

test('chunked sessions: reordered, missing, mixed or extra chunks are refused', async () => {
  const gw = gateway([S1]);
  const big = (await gw.store.create(state({ blob: 'x'.repeat(7000) }), new Map(), 'h')).map((c) => c.split(';')[0]!);
  const other = (await gw.store.create(state({ blob: 'y'.repeat(7000) }), new Map(), 'h')).map((c) => c.split(';')[0]!);
  assert.ok(big.length >= 2);
  assert.equal(await who(gw, big.join('; ')), 'alice');
  const v = (c: string) => c.slice(c.indexOf('=') + 1);
  const swapped = [`_oauth2_proxy_0=${v(big[1]!)}`, `_oauth2_proxy_1=${v(big[0]!)}`, ...big.slice(2)];
  assert.equal(await who(gw, swapped.join('; ')), null, 'swapped');
  assert.equal(await who(gw, big.slice(1).join('; ')), null, 'first chunk missing');
  assert.equal(await who(gw, big.slice(0, -1).join('; ')), null, 'last chunk missing');
  assert.equal(await who(gw, [big[0]!, ...other.slice(1)].join('; ')), null, 'chunks of two sessions');
  assert.equal(await who(gw, [...big, `_oauth2_proxy_${big.length}=AAAA`].join('; ')), null, 'an extra chunk');
});

test('foreign keys and rotation: another secret is refused; the old secret opens only while still listed', async () => {
  const oldGw = gateway([S1]);
  const header = cookieHeader(await oldGw.store.create(state(), new Map(), 'h'));
  assert.equal(await who(gateway([S2]), header), null, 'a cookie from another deployment');
  assert.equal(await who(gateway([S2, S1]), header), 'alice', 'rotation: new secret first, old one still accepted');
  assert.equal(await who(gateway([S2]), header), null, 'old secret removed');
  const rotated = gateway([S2, S1]);
  const fresh = cookieHeader(await rotated.store.create(state(), new Map(), 'h'));
  assert.equal(await who(gateway([S2]), fresh), 'alice', 'new cookies are sealed with the first secret');
});

test('a value sealed for another purpose or cookie name does not open as a session', async () => {
  const gw = gateway([S1]);
  const key = parseCookieSecret(S1);
  const s = encodeSession(state());
  const asCsrf = createSealer([key], 'csrf').seal(s, '_oauth2_proxy', Date.now() + HOUR);
  assert.equal(await who(gw, `_oauth2_proxy=${asCsrf}`), null, 'CSRF-cookie key');
  const otherName = createSealer([key], 'session').seal(s, '_other', Date.now() + HOUR);
  assert.equal(await who(gw, `_oauth2_proxy=${otherName}`), null, 'sealed for another cookie name');
  const right = createSealer([key], 'session').seal(s, '_oauth2_proxy', Date.now() + HOUR);
  assert.equal(await who(gw, `_oauth2_proxy=${right}`), 'alice', 'control: the right purpose and name open');
  const notSession = createSealer([key], 'session').seal('{"v":1,"user":"root"}', '_oauth2_proxy', Date.now() + HOUR);
  assert.equal(await who(gw, `_oauth2_proxy=${notSession}`), null, 'well sealed but not a session');
});

test('expired sessions are refused even though the browser still sends the cookie', async () => {
  const gw = gateway([S1]);
  const key = parseCookieSecret(S1);
  const old = state({}, Date.now() - 169 * HOUR);
  const sealed = createSealer([key], 'session').seal(encodeSession(old), '_oauth2_proxy', Date.now() + HOUR);
  assert.equal(await who(gw, `_oauth2_proxy=${sealed}`), null, 'loginAt + cookie-expire has passed');
  const expiredSeal = createSealer([key], 'session').seal(encodeSession(state()), '_oauth2_proxy', Date.now() - 1);
  assert.equal(await who(gw, `_oauth2_proxy=${expiredSeal}`), null, 'the sealed expiry has passed');
});
