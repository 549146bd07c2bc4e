// Header hygiene: hop-by-hop, Connection-named and client-supplied identity headers never reach the upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanRequestHeaders, cleanResponseHeaders } from '../../src/upstream/headers.js';

test('hop-by-hop and Connection-named headers are stripped (RFC 9110 §7.6.1)', () => {
  const out = cleanRequestHeaders({
    connection: 'keep-alive, X-Secret-Hop',
    'keep-alive': 'timeout=5',
    'x-secret-hop': '1',
    te: 'trailers',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'proxy-authorization': 'Basic x',
    host: 'gateway',
    accept: 'application/json',
    'accept-encoding': 'gzip',
  });
  assert.deepEqual(out, { accept: 'application/json', 'accept-encoding': 'gzip' });
});

test('identity and tenant headers are stripped in every spelling', () => {
  const out = cleanRequestHeaders(
    {
      'x-forwarded-user': 'admin',
      x_forwarded_user: 'admin',
      'x-forwarded_email': 'a@b',
      'x-auth-request-user': 'admin',
      'x-scope-orgid': 'other',
      x_scope_orgid: 'other',
      'thanos-tenant': 'other',
      authorization: 'Basic abc',
      token: 'jwt',
      'x-custom-tenant': 'evil',
      'x-keep': 'yes',
    },
    new Set(['x-custom-tenant']),
  );
  assert.deepEqual(out, { 'x-keep': 'yes' });
});

test('response headers keep Content-Encoding and drop hop-by-hop', () => {
  const out = cleanResponseHeaders({
    'content-encoding': 'gzip',
    'content-type': 'application/json',
    connection: 'close, x-drop',
    'x-drop': '1',
    'keep-alive': 'x',
    'transfer-encoding': 'chunked',
  });
  assert.deepEqual(out, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
});
