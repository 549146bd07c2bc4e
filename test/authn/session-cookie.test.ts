// Session cookie crypto and layout: secrets, seal/open, tampering, truncation, rotation, chunking, attributes.
import { signInCheck } from '../../src/authz/allowed.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseCookieSecret, loadCookieSecrets } from '../../src/authn/session/secret.js';
import { createSealer } from '../../src/authn/session/seal.js';
import {
  splitCookieValue,
  joinCookieValue,
  staleCookieNames,
  MAX_COOKIE_BYTES,
} from '../../src/authn/session/chunk.js';
import { parseCookies, serializeCookie, pickCookieDomain } from '../../src/authn/session/cookies.js';
import { createCookieStore } from '../../src/authn/session/store.js';
import { sessionFromClaims, type SessionState } from '../../src/authn/session/state.js';
import { createSessionAuthenticator } from '../../src/authn/session/authenticator.js';
import { authSchema } from '../../src/config/schema-auth.js';
import { pino } from 'pino';

const secretA = randomBytes(32);
const secretB = randomBytes(32);
const HOUR = 3_600_000;
const attrs = { domains: [], path: '/', secure: true, sameSite: 'lax' as const };

function sample(extra: Record<string, unknown> = {}): SessionState {
  const s = sessionFromClaims(
    { sub: 'u1', email: 'alice@example.com', preferred_username: 'alice', groups: ['team-a'], ...extra },
    { userClaim: 'preferred_username', emailClaim: 'email', groupsClaim: 'groups' },
    { idToken: 'id.tok.en', accessToken: 'at', refreshToken: 'rt', expiresIn: 300 },
    Date.now(),
  );
  s.sid = 'sid-0123456789';
  return s;
}

/** The jar a browser would hold after these Set-Cookie headers. */
function jar(setCookies: string[], prev: Map<string, string> = new Map()): Map<string, string> {
  const out = new Map(prev);
  for (const sc of setCookies) {
    const [pair, ...attrsList] = sc.split('; ');
    const eq = pair!.indexOf('=');
    const deleted = attrsList.some((a) => a === 'Max-Age=0');
    if (deleted) out.delete(pair!.slice(0, eq));
    else out.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return out;
}

test('cookie secrets: 32 raw bytes or base64(url) of 16/24/32 bytes; anything else is refused', () => {
  const raw32 = 'a'.repeat(31) + '!';
  assert.equal(parseCookieSecret(raw32).length, 32);
  // 32 characters that are valid base64 decode to 24 bytes first, exactly like oauth2-proxy.
  assert.equal(parseCookieSecret('a'.repeat(32)).length, 24);
  for (const n of [16, 24, 32]) {
    const bytes = randomBytes(n);
    assert.deepEqual(parseCookieSecret(bytes.toString('base64')), bytes);
    assert.deepEqual(parseCookieSecret(bytes.toString('base64url')), bytes);
  }
  for (const bad of ['', 'short', 'x'.repeat(31), randomBytes(20).toString('base64'), 'p'.repeat(33)]) {
    assert.throws(() => parseCookieSecret(bad), /cookie secret must be/);
  }
  assert.throws(() => loadCookieSecrets({ secret: [] }), /required/);
  assert.throws(() => loadCookieSecrets({ secret: [secretA.toString('base64'), 'nope'] }), /secret\[1\]/);
});

test('seal/open round trip, bound to the cookie name and the expiry', () => {
  const s = createSealer([secretA], 'session');
  const sealed = s.seal('hello', '_oauth2_proxy', Date.now() + HOUR);
  assert.equal(s.open(sealed, '_oauth2_proxy')?.toString(), 'hello');
  assert.equal(s.open(sealed, 'other_cookie'), null, 'a value moved to another cookie name does not open');
  assert.equal(s.open(sealed, '_oauth2_proxy', Date.now() + 2 * HOUR), null, 'expired');
  assert.equal(createSealer([secretA], 'csrf').open(sealed, '_oauth2_proxy'), null, 'another purpose does not open it');
});

test('tampered and truncated values never open', () => {
  const s = createSealer([secretA], 'session');
  const sealed = s.seal(JSON.stringify({ user: 'alice' }), 'c', Date.now() + HOUR);
  const raw = Buffer.from(sealed, 'base64url');
  for (let i = 0; i < raw.length; i += 7) {
    const t = Buffer.from(raw);
    t[i] = t[i]! ^ 0x01;
    assert.equal(s.open(t.toString('base64url'), 'c'), null, `bit flip at ${i}`);
  }
  for (const cut of [1, 10, sealed.length - 1]) assert.equal(s.open(sealed.slice(0, cut), 'c'), null);
  for (const junk of ['', '!!!', 'a'.repeat(100_000), `${sealed}.x`]) assert.equal(s.open(junk, 'c'), null);
});

test('rotation: new secret first seals, the old one still opens, a removed one does not', () => {
  const old = createSealer([secretA], 'session').seal('v', 'c', Date.now() + HOUR);
  const rotated = createSealer([secretB, secretA], 'session');
  assert.equal(rotated.open(old, 'c')?.toString(), 'v');
  const fresh = rotated.seal('w', 'c', Date.now() + HOUR);
  assert.equal(createSealer([secretA], 'session').open(fresh, 'c'), null, 'sealed with the new key');
  assert.equal(createSealer([secretB], 'session').open(old, 'c'), null, 'old key dropped: old cookies die');
});

test('chunking splits at the limit, joins back, and a missing chunk breaks the value', () => {
  const value = 'x'.repeat(9000);
  const parts = splitCookieValue('_p', value);
  assert.deepEqual(
    parts.map((p) => p.name),
    ['_p_0', '_p_1', '_p_2'],
  );
  for (const p of parts) assert.ok(p.name.length + 1 + p.value.length <= MAX_COOKIE_BYTES);
  const m = new Map(parts.map((p) => [p.name, p.value]));
  assert.equal(joinCookieValue(m, '_p'), value);
  m.delete('_p_1');
  assert.notEqual(joinCookieValue(m, '_p'), value);
  assert.deepEqual(splitCookieValue('_p', 'small'), [{ name: '_p', value: 'small' }]);
  const held = new Map([
    ['_p_0', 'a'],
    ['_p_1', 'b'],
    ['_p_2', 'c'],
    ['_other', 'z'],
  ]);
  assert.deepEqual(staleCookieNames(held, '_p', [{ name: '_p', value: 'v' }]), ['_p_0', '_p_1', '_p_2']);
});

test('cookie store: big sessions are chunked, reassembled, and stale chunks cleared when they shrink', async () => {
  const store = createCookieStore([secretA], { cookieName: '_oauth2_proxy', attrs, expireMs: 168 * HOUR });
  const big = sample({ blob: 'y'.repeat(6000) });
  const set1 = await store.create(big, new Map(), 'app.example.com');
  assert.ok(set1.length >= 2, 'chunked');
  const j1 = jar(set1);
  assert.ok(j1.has('_oauth2_proxy_0') && j1.has('_oauth2_proxy_1'));
  const loaded = await store.load(j1);
  assert.equal(loaded?.state.user, 'alice');
  assert.equal(loaded?.state.claims.blob, big.claims.blob);

  const small = sample();
  const set2 = await store.update(loaded!, small, j1, 'app.example.com');
  const j2 = jar(set2, j1);
  assert.deepEqual([...j2.keys()], ['_oauth2_proxy'], 'old chunks cleared');
  assert.equal((await store.load(j2))?.state.email, 'alice@example.com');
  // A jar holding both a new single cookie and stale chunks still reads the single one.
  assert.equal((await store.load(new Map([...j1, ...j2])))?.state.claims.blob, undefined);
});

test('cookie store: absolute expiry from login, even when the cookie is replayed', async () => {
  const store = createCookieStore([secretA], { cookieName: 'c', attrs, expireMs: HOUR });
  const s = sample();
  s.loginAt = Date.now() - HOUR / 2;
  const held = jar(await store.create(s, new Map(), 'h'));
  assert.equal((await store.load(held))?.state.user, 'alice');
  assert.equal(
    await store.load(held, Date.now() + HOUR),
    null,
    'a kept/replayed cookie dies at loginAt + cookie-expire',
  );
  s.loginAt = Date.now() - 2 * HOUR;
  const set = await store.create(s, new Map(), 'h');
  assert.ok(
    set.every((c) => c.includes('Max-Age=0')),
    'an already-ended session is written as a deletion',
  );
});

test('Set-Cookie attributes: HttpOnly, Secure, SameSite, Path, Max-Age, longest matching Domain', () => {
  const sc = serializeCookie(
    'n',
    'v',
    { domains: ['.example.com', '.app.example.com', 'other.org'], path: '/p', secure: true, sameSite: 'strict' },
    'x.app.example.com',
    60_000,
  );
  assert.match(
    sc,
    /^n=v; Path=\/p; Domain=\.app\.example\.com; Max-Age=60; Expires=.*; HttpOnly; Secure; SameSite=Strict$/,
  );
  assert.equal(pickCookieDomain(['.example.com'], 'evil.com'), undefined, 'no match: host-only cookie');
  assert.equal(pickCookieDomain(['example.com'], 'example.com'), 'example.com');
  assert.equal(pickCookieDomain(['.example.com'], 'badexample.com'), undefined);
  const insecure = serializeCookie('n', 'v', { domains: [], path: '/', secure: false, sameSite: '' }, 'h', null);
  assert.equal(insecure, 'n=v; Path=/; HttpOnly');
});

test('Cookie header parsing: first value wins, junk ignored', () => {
  const m = parseCookies({ cookie: 'a=1; a=2; b="q"; =x; bad name=1; c=' });
  assert.equal(m.get('a'), '1');
  assert.equal(m.get('b'), 'q');
  assert.equal(m.get('c'), '');
  assert.equal(m.size, 3);
});

test('an opened session cookie is reused until it is due for refresh; any other text is opened afresh', async () => {
  const cfg = authSchema.parse({
    oidc: {
      issuerUrl: 'http://127.0.0.1:9',
      clientId: 'c',
      clientSecret: 's',
      insecure: true,
      cookie: { secret: [secretA.toString('base64')], secure: false },
    },
  }).oidc!;
  const session = createSessionAuthenticator(cfg, { logger: pino({ level: 'silent' }), allowed: signInCheck(cfg) });
  const header = (setCookies: string[]): string => [...jar(setCookies)].map(([k, v]) => `${k}=${v}`).join('; ');
  const cookie = header(await session.store.create(sample(), new Map(), 'localhost'));
  const first = await session.authenticate({ headers: { cookie }, path: '/' });
  assert.equal(first?.user, 'alice');
  const again = session.authenticate({ headers: { cookie }, path: '/' });
  assert.ok(!(again instanceof Promise), 'a repeat is answered without opening the cookie again');
  assert.equal(again, first, 'the very same identity object (the tenant resolver keeps its answer for it)');
  // One character changed in the sealed value: not a hit, and it does not open.
  const tampered = cookie.replace(/=(.)/, (_m, c: string) => `=${c === 'A' ? 'B' : 'A'}`);
  assert.equal(await session.authenticate({ headers: { cookie: tampered }, path: '/' }), null);

  // A session whose access token is inside the refresh margin is never reused: every request goes through the
  // refresh (here the provider does not answer, so the still-valid session is served, and tried again next time).
  const due = sample();
  due.expiresAt = Date.now() + 30_000;
  const dueCookie = header(await session.store.create(due, new Map(), 'localhost'));
  for (let i = 0; i < 2; i++) {
    const r = session.authenticate({ headers: { cookie: dueCookie }, path: '/' });
    assert.ok(r instanceof Promise, `request ${i + 1} opens the cookie and tries the refresh`);
    assert.equal((await r)?.user, 'alice');
  }
  await session.close();
});
