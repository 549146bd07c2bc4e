// Prevents login CSRF and callback replay: state must match this browser's CSRF cookie, once, within its lifetime.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startOidcProvider,
  lateServer,
  mountGateway,
  gatewayOidc,
  TestBrowser,
  type OidcProviderFixture,
  type TestGateway,
} from '../e2e/harness/oidc-provider.js';

let idp: OidcProviderFixture;
let gw: TestGateway;
const alice = { id: 'alice', password: 'alice-pw' };
const bob = { id: 'bob', password: 'bob-pw' };

before(async () => {
  const slot = await lateServer();
  idp = await startOidcProvider({ redirectUris: [`${slot.url}/oauth2/callback`] });
  gw = mountGateway(slot, gatewayOidc(idp, idp.clients.basic));
});
after(async () => {
  await gw.close();
  await idp.close();
});

const csrfNames = (b: TestBrowser) => b.jar.names().filter((n) => n.startsWith('_oauth2_proxy_csrf_'));

test('the CSRF cookie: per login, HttpOnly, SameSite=Lax, 10 minutes, named by the state', async () => {
  const b = new TestBrowser();
  const start = await b.request(`${gw.url}/oauth2/start?rd=/x`);
  assert.equal(start.status, 302);
  const auth = new URL(start.headers.get('location')!);
  assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
  assert.match(auth.searchParams.get('code_challenge') ?? '', /^[\w-]{43}$/);
  assert.ok(auth.searchParams.get('nonce'));
  const state = auth.searchParams.get('state')!;
  const [sc] = start.headers.getSetCookie();
  assert.match(sc!, new RegExp(`^_oauth2_proxy_csrf_${state.split('.')[0]}=`));
  assert.match(sc!, /Path=\/oauth2;.*Max-Age=600;.*HttpOnly;.*SameSite=Lax/);
  assert.ok(!sc!.includes(state.split('.')[1]!), 'the state secret is sealed, not readable in the cookie');
});

test('a callback delivered to another browser (login CSRF) is refused', async () => {
  const attacker = new TestBrowser();
  const { callbackUrl } = await attacker.reachCallback(`${gw.url}/oauth2/start`, bob);
  const victim = new TestBrowser();
  const res = await victim.request(callbackUrl);
  assert.equal(res.status, 403);
  assert.equal(victim.jar.get('_oauth2_proxy'), undefined, 'no session planted in the victim browser');
});

test('state that does not match the CSRF cookie is refused', async () => {
  const b = new TestBrowser();
  const { callbackUrl } = await b.reachCallback(`${gw.url}/oauth2/start`, alice);
  const u = new URL(callbackUrl);
  const [id, secret] = u.searchParams.get('state')!.split('.');
  for (const state of [`${id}.${'A'.repeat(32)}`, `${'B'.repeat(12)}.${secret}`, '', 'garbage', `${id}.${secret}x`]) {
    u.searchParams.set('state', state);
    assert.equal((await b.clone().request(u.href)).status, 403, state);
  }
  const noState = new URL(callbackUrl);
  noState.searchParams.delete('state');
  assert.equal((await b.clone().request(noState.href)).status, 403);
});

test('a replayed callback is refused, with or without the CSRF cookie', async () => {
  const b = new TestBrowser();
  const { callbackUrl } = await b.reachCallback(`${gw.url}/oauth2/start`, alice);
  const before = b.clone();
  const first = await b.request(callbackUrl);
  assert.equal(first.status, 302);
  assert.deepEqual(csrfNames(b), [], 'CSRF cookie cleared by the first use');
  assert.equal((await b.request(callbackUrl)).status, 403, 'same browser, cookie already gone');
  assert.equal((await before.request(callbackUrl)).status, 403, 'a copy of the browser that still holds the cookie');
});

test('a tampered CSRF cookie is refused', async () => {
  const b = new TestBrowser();
  const { callbackUrl } = await b.reachCallback(`${gw.url}/oauth2/start`, alice);
  const [name] = csrfNames(b);
  const v = b.jar.get(name!)!;
  b.jar.store(gw.url, [`${name}=${v.slice(0, 20) + (v[20] === 'A' ? 'B' : 'A') + v.slice(21)}; Path=/oauth2`]);
  assert.equal(b.jar.names().filter((n) => n === name).length, 1, 'replaced, not added');
  assert.equal((await b.request(callbackUrl)).status, 403);
});

test('parallel logins in two tabs both complete, in any order', async () => {
  const b = new TestBrowser();
  const one = await b.reachCallback(`${gw.url}/oauth2/start?rd=/one`, alice);
  const two = await b.reachCallback(`${gw.url}/oauth2/start?rd=/two`, alice);
  assert.equal(csrfNames(b).length, 2);
  const r2 = await b.request(two.callbackUrl);
  assert.equal(r2.headers.get('location'), '/two');
  const r1 = await b.request(one.callbackUrl);
  assert.equal(r1.headers.get('location'), '/one');
  assert.equal(csrfNames(b).length, 0);
});

test('abandoned logins do not pile up CSRF cookies', async () => {
  const b = new TestBrowser();
  for (let i = 0; i < 8; i++) await b.request(`${gw.url}/oauth2/start`);
  assert.ok(csrfNames(b).length <= 4, `${csrfNames(b).length} CSRF cookies kept`);
});

test('a provider error answer is refused and shown, not trusted', async () => {
  const b = new TestBrowser();
  const start = await b.request(`${gw.url}/oauth2/start`);
  const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
  const res = await b.request(`${gw.url}/oauth2/callback?error=access_denied&state=${encodeURIComponent(state)}`);
  assert.equal(res.status, 403);
  assert.match(await res.text(), /access_denied/);
  const evil = await b.request(`${gw.url}/oauth2/callback?error=%3Cscript%3Ealert(1)%3C/script%3E`);
  assert.doesNotMatch(await evil.text(), /<script>/);
});
