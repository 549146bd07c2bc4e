// The request path reads in short functions (issue 10): no function in the folders a request passes through is
// longer than about 40 lines. Factories (create*/build*/compile*) run once per config and are not measured
// themselves; the closures they return are. Byte-level lexers that are one state machine stay whole, listed below
// with their reason; the list must stay current (an entry that no longer needs it fails too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { tsFiles } from '../helpers/files.js';

const SRC = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../src');
const MAX_LINES = 45;
/** Where a request goes: the stages, the enforcement, the upstream call, the limits, the route table. */
const REQUEST_PATH = ['pipeline', 'enforce', 'upstream', 'limits', 'routes'];
/** Kept whole on purpose: `file:function` → why. */
const WHOLE: Record<string, string> = {
  'enforce/promql/scan.ts:readSelector':
    "a selector lexer following Prometheus's lexer inside braces, one state machine",
  'enforce/promql/strings.ts:decodeEscaped': "Go's string unescaping (strconv.Unquote), one switch over escape kinds",
  'enforce/promql/rewrite.ts:rewrite': 'the splice walking the parse tree once, cursor and output kept in step',
};
const FACTORY = /^(create|build|compile)[A-Z]/;

function nameOf(n: ts.FunctionLikeDeclaration): string {
  if (n.name) return n.name.getText();
  const p = n.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p)) return p.name.getText();
  return '<anonymous>';
}

/** Every function of `dirs` (under `root`) longer than MAX_LINES, as `file:function` → lines. */
function longFunctions(root: string, dirs: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of dirs.flatMap((d) => tsFiles(join(root, d)))) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (
        ts.isFunctionDeclaration(n) ||
        ts.isMethodDeclaration(n) ||
        ts.isArrowFunction(n) ||
        ts.isFunctionExpression(n)
      ) {
        const name = nameOf(n);
        const lines =
          sf.getLineAndCharacterOfPosition(n.getEnd()).line - sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        if (lines > MAX_LINES && !FACTORY.test(name)) out.set(`${relative(root, file)}:${name}`, lines);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

test(`no request-path function is longer than ${MAX_LINES} lines, but the listed lexers`, () => {
  const long = longFunctions(SRC, REQUEST_PATH);
  const over = [...long].filter(([k]) => !(k in WHOLE)).map(([k, n]) => `${k} (${n} lines)`);
  assert.deepEqual(over, [], 'split these into named steps, or list one here with the reason it stays whole');
  const stale = Object.keys(WHOLE).filter((k) => !long.has(k));
  assert.deepEqual(stale, [], 'no longer over the limit: take them off the list');
});

test('the measure can fail: a factory is skipped, but its long closure is not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promgate-fnlen-'));
  try {
    mkdirSync(join(dir, 'stage'));
    const body = Array.from({ length: MAX_LINES }, (_, i) => `    x += ${i};`).join('\n');
    writeFileSync(
      join(dir, 'stage/thing.ts'),
      `export function createThing() {\n  const run = () => {\n    let x = 0;\n${body}\n    return x;\n  };\n  return run;\n}\n` +
        'export function short() {\n  return 1;\n}\n',
    );
    assert.deepEqual([...longFunctions(dir, ['stage']).keys()], ['stage/thing.ts:run']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
