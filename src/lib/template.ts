// The one `{{ }}` template language: tenant rule labels, tenant headers, header directives and upstream URLs all parse here.

/**
 * One placeholder: a variable (`user`, `claims.team`, `values.namespace`) or a function with string arguments
 * (`cookie "kubesphere-token"`, `env "X"`, `file "/path"`), then filters (`| join ","`, `| lower`).
 */
export interface TemplateExpr {
  /** The variable or function name; dotted variables are split into `name` and `path` (`claims` + `a.b`). */
  name: string;
  /** What follows the first dot (`claims.realm_access.roles` → `realm_access.roles`), when there is one. */
  path?: string;
  args: string[];
  filters: { name: string; args: string[] }[];
  /** The placeholder as written, for messages. */
  source: string;
}

export type TemplatePart = string | TemplateExpr;

/** A template that cannot be parsed, or names something its use site does not know. */
export class TemplateError extends Error {}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const TOKEN = /\s*(?:"([^"\\]*)"|(\|)|([A-Za-z_][A-Za-z0-9_.\-/]*))/y;

function tokens(inner: string, source: string): { str?: string; pipe?: true; word?: string }[] {
  const out: { str?: string; pipe?: true; word?: string }[] = [];
  let pos = 0;
  const text = inner.trimEnd();
  while (pos < text.length) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new TemplateError(`cannot read ${source} at "${text.slice(pos).trim()}"`);
    if (m[1] !== undefined) out.push({ str: m[1] });
    else if (m[2] !== undefined) out.push({ pipe: true });
    else out.push({ word: m[3]! });
    pos = TOKEN.lastIndex;
  }
  return out;
}

function expr(inner: string): TemplateExpr {
  const source = `{{${inner}}}`;
  const toks = tokens(inner, source);
  const segments: (typeof toks)[] = [[]];
  for (const t of toks) {
    if (t.pipe) segments.push([]);
    else segments[segments.length - 1]!.push(t);
  }
  const call = (seg: typeof toks, what: string) => {
    const [head, ...rest] = seg;
    if (!head?.word) throw new TemplateError(`${source}: ${what} must start with a name`);
    const args = rest.map((r) => {
      if (r.str === undefined) throw new TemplateError(`${source}: arguments are "quoted strings", not ${r.word}`);
      return r.str;
    });
    return { name: head.word, args };
  };
  const [first, ...rest] = segments;
  const head = call(first!, 'a placeholder');
  const dot = head.name.indexOf('.');
  const name = dot === -1 ? head.name : head.name.slice(0, dot);
  const path = dot === -1 ? undefined : head.name.slice(dot + 1);
  if (path === '') throw new TemplateError(`${source}: nothing after "${name}."`);
  return { name, path, args: head.args, filters: rest.map((s) => call(s, 'a filter')), source };
}

/** Literal text and placeholders; throws TemplateError for unbalanced braces or a placeholder it cannot read. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(expr(m[1]!));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  if (parts.some((p) => typeof p === 'string' && (p.includes('{{') || p.includes('}}'))))
    throw new TemplateError(`unbalanced {{ }} in "${text}"`);
  return parts;
}

export const isTemplate = (text: string): boolean => text.includes('{{') || text.includes('}}');

/**
 * What a use site allows: each variable name with its kind (`string`, `list`; `path` when it needs `.x`
 * after it), each function with its argument count, and the filters it accepts.
 */
export interface TemplateVocabulary {
  variables: Readonly<Record<string, 'string' | 'list' | 'path'>>;
  functions?: Readonly<Record<string, number>>;
  filters?: readonly string[];
}

/** Checks every placeholder against the vocabulary, naming every unknown variable, function or filter. */
export function checkTemplate(parts: readonly TemplatePart[], vocab: TemplateVocabulary): void {
  for (const p of parts) {
    if (typeof p === 'string') continue;
    const known = [
      ...Object.entries(vocab.variables).map(([k, v]) => (v === 'path' ? `${k}.<name>` : k)),
      ...Object.keys(vocab.functions ?? {}).map((f) => `${f} "…"`),
    ].join(', ');
    const kind = vocab.variables[p.name];
    const arity = vocab.functions?.[p.name];
    if (arity !== undefined) {
      if (p.path !== undefined || p.args.length !== arity)
        throw new TemplateError(`${p.source}: ${p.name} takes ${arity} "quoted" argument${arity === 1 ? '' : 's'}`);
    } else if (kind === undefined) {
      throw new TemplateError(`unknown variable ${p.source} (known here: ${known})`);
    } else if ((kind === 'path') !== (p.path !== undefined) || p.args.length > 0) {
      throw new TemplateError(
        kind === 'path' ? `${p.source}: use ${p.name}.<name>` : `${p.source}: ${p.name} takes no arguments or path`,
      );
    }
    for (const f of p.filters) {
      if (!(vocab.filters ?? []).includes(f.name))
        throw new TemplateError(
          `unknown filter "${f.name}" in ${p.source}` +
            (vocab.filters?.length ? ` (known here: ${vocab.filters.join(', ')})` : ' (no filters here)'),
        );
      const want = FILTER_ARGS[f.name] ?? 0;
      if (f.args.length !== want)
        throw new TemplateError(
          `${p.source}: filter ${f.name} takes ${want} "quoted" argument${want === 1 ? '' : 's'}`,
        );
    }
    const list = kind === 'list' || kind === 'path';
    if (kind === 'list' && !p.filters.some((f) => f.name === 'join'))
      throw new TemplateError(`${p.source}: ${p.name} is a list; join it (${p.name} | join ",")`);
    if (!list && p.filters.some((f) => f.name === 'join')) throw new TemplateError(`${p.source}: join needs a list`);
  }
}

const FILTER_ARGS: Record<string, number> = { join: 1, lower: 0, upper: 0, trim: 0 };

/** A value while filters run: nothing, one string, or a list (claims may be lists; groups always are). */
export type TemplateValue = string | readonly string[] | undefined;

/**
 * Applies the filters in order. `join` turns a list into one string (an empty list is nothing); `lower`,
 * `upper` and `trim` apply to a string or to each item. Nothing stays nothing.
 */
export function applyFilters(v: TemplateValue, filters: TemplateExpr['filters']): TemplateValue {
  for (const f of filters) {
    if (v === undefined) return undefined;
    if (f.name === 'join') v = typeof v === 'string' ? v : v.length === 0 ? undefined : v.join(f.args[0]!);
    else {
      const one = (s: string) =>
        f.name === 'lower' ? s.toLowerCase() : f.name === 'upper' ? s.toUpperCase() : s.trim();
      v = typeof v === 'string' ? one(v) : v.map(one);
    }
  }
  return v;
}

/**
 * Renders single-valued templates: every placeholder must give one non-empty string, else the whole template
 * gives nothing (`undefined`), never an empty or partial value. A list left unjoined (a list claim) is nothing.
 */
export function renderParts(
  parts: readonly TemplatePart[],
  value: (e: TemplateExpr) => TemplateValue,
  check?: (v: string, e: TemplateExpr) => void,
): string | undefined {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const v = applyFilters(value(p), p.filters);
    if (typeof v !== 'string' || v === '') return undefined;
    check?.(v, p);
    out += v;
  }
  return out;
}
