// Upstream redirects are mapped back through the route: origin and base path replaced by the route prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteLocation } from '../../src/upstream/location.js';
import type { Upstream } from '../../src/upstream/pool.js';

const up = (basePath: string) => ({ origin: 'http://prom:9090', basePath }) as Upstream;

const CASES: [base: string, prefix: string, location: string, expected: string][] = [
  ['', '/', '/graph/', '/graph/'],
  ['/prom-sub', '/', '/prom-sub/graph/', '/graph/'],
  ['/prom-sub', '/clusters/host/prometheus', '/prom-sub/classic/graph', '/clusters/host/prometheus/classic/graph'],
  ['/prom-sub', '/c', 'http://prom:9090/prom-sub/graph?x=1', '/c/graph?x=1'],
  ['', '/c', '/graph', '/c/graph'],
  ['/prom-sub', '/c', '/prom-sub', '/c/'],
  ['/prom-sub', '/c', '/elsewhere', '/elsewhere'],
  ['', '/c', 'https://idp.example.com/login', 'https://idp.example.com/login'],
  ['', '/c', 'graph/', 'graph/'],
  ['', '/c', '//evil.com/x', '//evil.com/x'],
];

for (const [base, prefix, location, expected] of CASES) {
  test(`${base || '(no base)'} via ${prefix}: ${location} → ${expected}`, () => {
    assert.equal(rewriteLocation(location, up(base), prefix), expected);
  });
}
