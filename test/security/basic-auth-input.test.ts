// Hostile Authorization: Basic headers get a 401 GatewayError with a challenge, never a crash or another error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBasicAuthenticator } from '../../src/authn/basic.js';
import { GatewayError } from '../../src/errors.js';
import { captureLogger, caught, tempDir, writeFile } from '../authn/helpers.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const CHALLENGE = 'Basic realm="ops \\"east\\"", charset="UTF-8"';

// [name, Authorization header, expected: a code, 'null' (not Basic: the next method tries), or 'ok']
const CASES: [string, string, string][] = [
  ['bearer scheme', 'Bearer abc', 'null'],
  ['no scheme at all', b64('alice:pw'), 'null'],
  ['scheme-like prefix', `Basicx ${b64('alice:pw')}`, 'null'],
  ['Basic with empty value', 'Basic', 'PG_AUTHN_MALFORMED'],
  ['Basic with only spaces', 'Basic    ', 'PG_AUTHN_MALFORMED'],
  ['bad base64 characters', 'Basic !!!!', 'PG_AUTHN_MALFORMED'],
  ['base64url alphabet', 'Basic YWxpY2U6cHc-_w', 'PG_AUTHN_MALFORMED'],
  ['impossible base64 length', 'Basic YWxpY', 'PG_AUTHN_MALFORMED'],
  ['embedded space', `Basic ${b64('alice')} ${b64(':pw')}`, 'PG_AUTHN_MALFORMED'],
  ['no colon', `Basic ${b64('alicepw')}`, 'PG_AUTHN_MALFORMED'],
  ['non-UTF-8 bytes', `Basic ${b64(Buffer.from([0x61, 0x3a, 0xff, 0xfe, 0xc3]))}`, 'PG_AUTHN_MALFORMED'],
  ['overlong UTF-8', `Basic ${b64(Buffer.from([0x61, 0x3a, 0xc0, 0xaf]))}`, 'PG_AUTHN_MALFORMED'],
  ['10 KB credentials', `Basic ${b64(`alice:${'x'.repeat(10_000)}`)}`, 'PG_AUTHN_MALFORMED'],
  ['empty user and password', `Basic ${b64(':')}`, 'PG_AUTHN_BAD_CREDENTIALS'],
  ['unknown user', `Basic ${b64('mallory:pw')}`, 'PG_AUTHN_BAD_CREDENTIALS'],
  ['wrong password', `Basic ${b64('alice:nope')}`, 'PG_AUTHN_BAD_CREDENTIALS'],
  ['password with a NUL suffix', `Basic ${b64('alice:pw\0')}`, 'PG_AUTHN_BAD_CREDENTIALS'],
  ['user with a trailing space', `Basic ${b64('alice :pw')}`, 'PG_AUTHN_BAD_CREDENTIALS'],
  ['lowercase scheme (RFC 7617: case-insensitive)', `basic ${b64('alice:pw')}`, 'ok'],
  ['uppercase scheme', `BASIC ${b64('alice:pw')}`, 'ok'],
  ['unpadded base64', `Basic ${b64('alice:pw').replace(/=+$/, '')}`, 'ok'],
  ['colon in the password', `Basic ${b64('bob:a:b:c')}`, 'ok'],
  ['UTF-8 password', `Basic ${b64('carol:pässwörd')}`, 'ok'],
];

test('malformed and hostile Basic credentials', async (t) => {
  const dir = tempDir(t);
  const usersFile = writeFile(
    dir,
    'users.yaml',
    'users:\n  - {username: alice, password: pw, namespace: a}\n  - {username: bob, password: "a:b:c", namespace: b}\n  - {username: carol, password: pässwörd, namespace: c}\n',
  );
  const a = createBasicAuthenticator(
    { usersFile, realm: 'ops "east"', cacheTtl: 60_000, allowPlaintext: true },
    { logger: captureLogger().logger },
  );
  t.after(() => a.close?.());
  for (const [name, header, expected] of CASES) {
    const run = async () => a.authenticate({ headers: { authorization: header }, path: '/api/v1/query' });
    if (expected === 'null') {
      assert.equal(await run(), null, name);
      continue;
    }
    if (expected === 'ok') {
      assert.ok(await run(), name);
      continue;
    }
    const e = await caught(run);
    assert.ok(e instanceof GatewayError, `${name}: not a GatewayError: ${String(e)}`);
    assert.equal(e.code, expected, name);
    assert.equal(e.status, 401, name);
    assert.equal(e.headers['www-authenticate'], CHALLENGE, name);
  }
});

test('no Authorization header: not this method', async (t) => {
  const dir = tempDir(t);
  const usersFile = writeFile(dir, 'users.yaml', 'users:\n  - {username: alice, password: pw, namespace: a}\n');
  const a = createBasicAuthenticator(
    { usersFile, realm: 'r', cacheTtl: 0, allowPlaintext: true },
    { logger: captureLogger().logger },
  );
  t.after(() => a.close?.());
  assert.equal(await a.authenticate({ headers: {}, path: '/' }), null);
});
