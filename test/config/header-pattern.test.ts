// Header directive `remove` patterns: case-insensitive names where `*` stands for any run of characters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerNamePattern } from '../../src/config/derived.js';

test('a remove pattern matches exactly the names its stars allow', () => {
  const rows: [string, string, boolean][] = [
    ['X-Debug', 'x-debug', true],
    ['X-Debug', 'x-debug-2', false],
    ['X-Debug-*', 'x-debug-', true],
    ['X-Debug-*', 'x-debug-trace', true],
    ['X-Debug-*', 'x-debug', false],
    ['*-Token', 'x-auth-token', true],
    ['*-Token', 'x-auth-token-2', false],
    ['X-*-*-Id', 'x-a-b-id', true],
    ['X-*-*-Id', 'x--id', false],
    ['X-*-*-Id', 'x---id', true],
    ['*a*a*', 'a', false],
    ['*a*a*', 'aa', true],
    ['*', 'anything', true],
    ['X-.-Y', 'x-a-y', false], // `.` is a character of the name, not "any character"
    ['X-.-Y', 'x-.-y', true],
  ];
  for (const [pattern, name, want] of rows)
    assert.equal(headerNamePattern(pattern)(name), want, `${pattern} ~ ${name}`);
});
