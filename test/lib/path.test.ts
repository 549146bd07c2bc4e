// Request-target parsing: what promgate matches must be exactly what the upstream routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, encodePath } from '../../src/lib/path.js';
import { GatewayError } from '../../src/errors.js';

test('plain targets pass untouched', () => {
  assert.deepEqual(parseTarget('/api/v1/query?query=up'), { path: '/api/v1/query', search: 'query=up' });
  assert.deepEqual(parseTarget('/'), { path: '/', search: '' });
  assert.deepEqual(parseTarget('/static/x.js'), { path: '/static/x.js', search: '' });
});

test('percent-encoded paths are decoded before matching', () => {
  assert.equal(parseTarget('/api/v1/%71uery').path, '/api/v1/query');
  assert.equal(parseTarget('/api/v1/label/job/values').path, '/api/v1/label/job/values');
});

const REFUSED = [
  '/api/v1/../v1/admin/tsdb/delete_series',
  '/api/v1/./query',
  '/api/v1/%2e%2e/admin',
  '/api/v1/label/a%2Fb/values',
  '/api//v1/query',
  '/api/v1/query%00',
  '/api/v1/%5cquery',
  '/api/v1/%zz',
  'http://evil/api/v1/query',
  '*',
];
for (const t of REFUSED) {
  test(`refused target ${t}`, () => {
    assert.throws(
      () => parseTarget(t),
      (e: unknown) => e instanceof GatewayError && e.code === 'PG_BAD_REQUEST',
    );
  });
}

test('encodePath re-encodes unsafe characters', () => {
  assert.equal(encodePath('/api/v1/label/job/values'), '/api/v1/label/job/values');
  assert.equal(encodePath('/api/v1/label/a b/values'), '/api/v1/label/a%20b/values');
});
