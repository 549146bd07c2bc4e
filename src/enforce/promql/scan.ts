// Reads one VectorSelector off the lezer tree (cursor only), for both the enforcer and its verifier.
import type { TreeCursor } from '@lezer/common';
import {
  EqlRegex,
  EqlSingle,
  Identifier,
  LabelMatchers,
  LabelName,
  LineComment,
  MatchOp,
  Neq,
  NeqRegex,
  QuotedLabelMatcher,
  QuotedLabelName,
  StringLiteral,
  UnquotedLabelMatcher,
  VectorSelector,
} from '@prometheus-io/lezer-promql';
import type { Matcher } from '../../tenancy/tenant.js';
import { decodePromString } from './strings.js';

/** Where the tenant matchers go: after a bare name, inside empty braces, or after the last matcher. */
export type Insert = 'braces' | 'empty' | 'after';

// Parent node type per depth below the selector; the deepest legal path is
// VectorSelector > LabelMatchers > QuotedLabelMatcher > QuotedLabelName > StringLiteral.
const MAX_SELECTOR_DEPTH = 6;

/** One VectorSelector, read from the tree. Reused between selectors to spare allocations. */
export class SelectorScan {
  from = 0;
  to = 0;
  insert: Insert = 'braces';
  insertAt = 0;
  names: string[] = [];
  ops: Matcher['op'][] = [];
  values: string[] = [];
  count = 0;
  /** Position of the first problem, -1 when the selector is sound. */
  badAt = -1;
  badTo = -1;
  badWhy = '';
  /** Node type per depth while reading; kept here so each selector costs no allocation. */
  readonly parents = new Int32Array(MAX_SELECTOR_DEPTH + 1);

  push(name: string, op: Matcher['op'], value: string): void {
    this.names[this.count] = name;
    this.ops[this.count] = op;
    this.values[this.count] = value;
    this.count++;
  }

  fail(at: number, to: number, why: string): void {
    if (this.badAt < 0) {
      this.badAt = at;
      this.badTo = to;
      this.badWhy = why;
    }
  }
}

function opOf(id: number): Matcher['op'] | undefined {
  if (id === EqlSingle) return '=';
  if (id === Neq) return '!=';
  if (id === EqlRegex) return '=~';
  if (id === NeqRegex) return '!~';
  return undefined;
}

/**
 * Lezer ends a `#` comment only at "\n"; Prometheus also ends it at "\r". So in
 * `up # x\r or other` lezer sees one selector and Prometheus two, the second one without
 * the tenant matchers. A "\r" right before the line end is harmless; any other is refused.
 */
export function commentIsSafe(src: string, from: number, to: number): boolean {
  const cr = src.indexOf('\r', from);
  return cr < 0 || cr >= to - 1;
}

/** Pre-order step over the whole tree; false once every node has been visited. */
export function advance(c: TreeCursor, descend: boolean): boolean {
  if (descend && c.firstChild()) return true;
  while (!c.nextSibling()) if (!c.parent()) return false;
  return true;
}

/**
 * Read the selector under the cursor (which must sit on a VectorSelector) and leave the
 * cursor where it started. Error nodes, undecodable strings and unexpected node types
 * are recorded in `s.badAt` instead of thrown, so callers choose the error code.
 */
export function readSelector(c: TreeCursor, src: string, s: SelectorScan): void {
  s.from = c.from;
  s.to = c.to;
  s.count = 0;
  s.badAt = -1;
  s.insert = 'braces';
  s.insertAt = c.to;
  const parents = s.parents;
  parents[0] = VectorSelector;
  let depth = 0;
  let name = '';
  let op: Matcher['op'] = '=';
  for (;;) {
    if (depth < MAX_SELECTOR_DEPTH && c.firstChild()) depth++;
    else if (depth === 0) return;
    else {
      while (!c.nextSibling()) {
        c.parent();
        if (--depth === 0) return;
      }
    }
    const type = c.type;
    const id = type.id;
    const parent = parents[depth - 1];
    parents[depth] = id;
    if (type.isError) {
      s.fail(c.from, c.to, 'error');
      continue;
    }
    switch (id) {
      case Identifier:
        s.insertAt = c.to;
        s.push('__name__', '=', src.slice(c.from, c.to));
        break;
      case LabelMatchers:
        s.insert = 'empty';
        s.insertAt = c.from + 1;
        break;
      case UnquotedLabelMatcher:
      case QuotedLabelMatcher:
        s.insert = 'after';
        s.insertAt = c.to;
        break;
      case QuotedLabelName:
        if (parent === LabelMatchers) {
          // A bare quoted string in braces is the (UTF-8) metric name.
          s.insert = 'after';
          s.insertAt = c.to;
          name = '__name__';
          op = '=';
        }
        break;
      case LabelName:
        name = src.slice(c.from, c.to);
        break;
      case EqlSingle:
      case Neq:
      case EqlRegex:
      case NeqRegex:
        op = opOf(id)!;
        break;
      case StringLiteral: {
        const v = decodePromString(src, c.from, c.to);
        if (v === undefined) s.fail(c.from, c.to, 'string');
        else if (parent === QuotedLabelName && parents[depth - 2] === QuotedLabelMatcher) name = v;
        else s.push(name, op, v);
        break;
      }
      case LineComment:
        if (!commentIsSafe(src, c.from, c.to)) s.fail(c.from, c.to, 'comment');
        break;
      case MatchOp:
        break;
      default:
        s.fail(c.from, c.to, 'node');
    }
  }
}
