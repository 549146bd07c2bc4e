// Parses a YAML config text keeping positions, so problems can name the line of the key.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';

export interface YamlSource {
  file: string;
  value: unknown;
  /** 1-based line of the node at a key path, or of its nearest existing parent. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

export function parseYamlSource(text: string, file: string): { source?: YamlSource; problems: string[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const problems = doc.errors.map((e) => {
    const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    return `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML error: ${e.message.split('\n')[0]}`;
  });
  if (problems.length > 0) return { problems };
  return { source: { file, value: doc.toJS() ?? {}, lineOf: (p) => lineOf(doc, lc, p) }, problems };
}

function lineOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let last: Node | undefined = isMap(node) || isSeq(node) ? (node as Node) : undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      if (isScalar(pair.key)) last = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node && typeof node === 'object' && 'range' in node) last = node as Node;
    } else break;
  }
  const start = last?.range?.[0];
  return start === undefined ? undefined : lc.linePos(start).line;
}
