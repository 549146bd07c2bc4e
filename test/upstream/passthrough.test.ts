// upstream.auth {type: passthrough}: the caller's own credential goes upstream (the KubeSphere case), and only on such routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { startStub, echoJson } from '../e2e/upstream-stub.js';
import { asymKey, jwks, sign } from '../authn/jwt-helpers.js';
import { callerAuthorization } from '../../src/upstream/signers/passthrough.js';
import { ANONYMOUS } from '../../src/authn/anonymous.js';
import type { Identity } from '../../src/authn/identity.js';

test("the caller's bearer token (Authorization or Token header) and basic credentials go upstream on a passthrough route only", async (t) => {
  const dir = makeTempDir('passthrough');
  t.after(() => dir.remove());
  const key = await asymKey('ES256', 'k1');
  writeFileSync(dir.file('jwks.json'), JSON.stringify(jwks(key)));
  writeFileSync(dir.file('users.yaml'), 'users:\n  - username: alice\n    password: alice-pw\n    namespace: team-a\n');
  const stub = await startStub(echoJson);
  t.after(() => stub.close());
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  - prefix: /ks
    upstream: { url: "${stub.url}", auth: { type: passthrough } }
  - prefix: /plain
    upstream: { url: "${stub.url}" }
auth:
  basic: { usersFile: ${dir.file('users.yaml')} }
  jwt: { jwks: ${dir.file('jwks.json')} }
`,
  });
  t.after(() => pg.stop());
  const token = await sign(key, { sub: 'bob', preferred_username: 'bob', namespaces: ['team-b'] });
  const upstreamAuth = async (path: string, headers: Record<string, string>) => {
    const r = await request(`${pg.url}${path}`, { headers });
    assert.equal(r.statusCode, 200, await r.body.text());
    return stub.received.at(-1)!.headers.authorization;
  };
  assert.equal(await upstreamAuth('/ks/api/v1/labels', { authorization: `Bearer ${token}` }), `Bearer ${token}`);
  assert.equal(
    await upstreamAuth('/ks/api/v1/labels', { token }),
    `Bearer ${token}`,
    'the Token header becomes a bearer token',
  );
  const basic = 'Basic ' + Buffer.from('alice:alice-pw').toString('base64');
  assert.equal(await upstreamAuth('/ks/api/v1/labels', { authorization: basic }), basic);
  // Without passthrough the caller's credential never leaves promgate.
  assert.equal(await upstreamAuth('/plain/api/v1/labels', { authorization: `Bearer ${token}` }), undefined);
  assert.equal(await upstreamAuth('/plain/api/v1/labels', { authorization: basic }), undefined);
  // The tenant is still enforced on a passthrough route.
  assert.match(decodeURIComponent(stub.received.at(-3)!.url), /namespace="team-a"/);
});

test("callerAuthorization: a session's access token, nothing for anonymous callers or sessions without one", () => {
  const session: Identity = {
    subject: 's',
    user: 'u',
    groups: [],
    claims: {},
    method: 'session',
    tokens: { accessToken: 'at-123', idToken: 'id-456' },
  };
  assert.equal(callerAuthorization(session, {}), 'Bearer at-123');
  assert.equal(callerAuthorization({ ...session, tokens: {} }, {}), undefined);
  assert.equal(
    callerAuthorization(ANONYMOUS, { authorization: 'Bearer forged' }),
    undefined,
    "an anonymous caller's header is not passed",
  );
  const jwt: Identity = { ...session, method: 'jwt', tokens: undefined };
  assert.equal(callerAuthorization(jwt, { authorization: 'bearer   abc ' }), 'Bearer abc');
  assert.equal(callerAuthorization(jwt, { 'x-token': 'xyz' }, 'X-Token'), 'Bearer xyz', 'the configured token header');
});
