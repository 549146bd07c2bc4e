// No import cycles between src/ folders (and none between files): the allowed directions are in docs/architecture.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { tsFiles } from '../helpers/files.js';

const SRC = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../src');

/** Relative imports of a file (static, `export … from`, and `import()`), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** The top folder under src/; a file directly in src/ (errors.ts, the leaf; index.ts, the public entry) is a node of its own. */
function folder(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? rel[0]! : rel[0]! + '/';
}

function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

const all = tsFiles(SRC);
const edges = new Map(all.map((f) => [f, importsOf(f)] as const));

test('no import cycle between folders of src/', () => {
  const graph = new Map<string, Set<string>>();
  for (const [f, deps] of edges) {
    for (const d of deps) {
      const a = folder(f);
      const b = folder(d);
      if (a === b) continue;
      if (!graph.has(a)) graph.set(a, new Set());
      graph.get(a)!.add(b);
    }
  }
  const found = cycles(graph);
  const detail = found.map((c) => c.join(' → ')).join('\n');
  // Name a file behind each edge of the first cycle, so the fix is obvious.
  const witnesses = (found[0] ?? []).slice(0, -1).map((a, i) => {
    const b = found[0]![i + 1]!;
    const f = [...edges].find(([x, ds]) => folder(x) === a && ds.some((d) => folder(d) === b));
    return f ? `${relative(SRC, f[0])} imports from ${b}` : '';
  });
  assert.deepEqual(found, [], `folder cycles:\n${detail}\n${witnesses.join('\n')}`);
});

test('no import cycle between files of src/', () => {
  const graph = new Map(
    [...edges].map(([f, ds]) => [relative(SRC, f), new Set(ds.map((d) => relative(SRC, d)))] as const),
  );
  assert.deepEqual(
    cycles(graph).map((c) => c.join(' → ')),
    [],
  );
});

test('the import scan sees imports (control: pipeline.ts imports from enforce/ or pipeline/)', () => {
  const pipeline = [...edges].find(([f]) => f.endsWith('pipeline/pipeline.ts'));
  assert.ok(pipeline && pipeline[1].length > 3);
});
