// The authenticate stage: first identity wins, synchronous on cache hits, and a refusal names the method that refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Authenticator, Identity } from '../../src/authn/identity.js';
import { GatewayError } from '../../src/errors.js';
import { authenticate, refusingMethod } from '../../src/pipeline/authenticate.js';

const id = (user: string): Identity => ({ subject: user, user, groups: [], claims: {}, method: 'jwt' });
const req = { headers: {}, path: '/api/v1/query' };

function auth(method: Authenticator['method'], answer: () => ReturnType<Authenticator['authenticate']>): Authenticator {
  return { method, authenticate: answer, ready: () => true };
}

test('a synchronous answer stays synchronous; a pending one continues the chain', async () => {
  const alice = id('alice');
  const chain = { authenticators: [auth('basic', () => null), auth('jwt', () => alice)], anonymous: false };
  assert.equal(authenticate(chain, req), alice, 'no promise when every authenticator answers at once');
  const later = {
    authenticators: [auth('basic', () => Promise.resolve(null)), auth('jwt', () => alice)],
    anonymous: false,
  };
  const r = authenticate(later, req);
  assert.ok(r instanceof Promise);
  assert.equal(await r, alice);
});

test('a refusal is attributed to the method that refused it, thrown or rejected', async () => {
  const bad = () => new GatewayError('PG_AUTHN_BAD_CREDENTIALS', 'invalid username or password');
  const sync = {
    authenticators: [
      auth('session', () => null),
      auth('basic', () => {
        throw bad();
      }),
    ],
    anonymous: false,
  };
  const e1 = (() => {
    try {
      authenticate(sync, req);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(e1 instanceof GatewayError);
  assert.equal(refusingMethod(e1), 'basic');
  const async = { authenticators: [auth('jwt', () => Promise.reject(bad()))], anonymous: false };
  const e2 = await (authenticate(async, req) as Promise<Identity>).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(refusingMethod(e2), 'jwt');
  // No credentials at all: nobody refused, the request simply had none.
  const none = { authenticators: [auth('basic', () => null)], anonymous: false };
  const e3 = (() => {
    try {
      authenticate(none, req);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.equal((e3 as GatewayError).code, 'PG_AUTHN_REQUIRED');
  assert.equal(refusingMethod(e3), 'none');
});
