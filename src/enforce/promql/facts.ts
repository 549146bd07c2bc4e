// What a PromQL expression reaches in time (longest range, how far back it reads), read off the enforcer's own parse tree.
import type { SyntaxNode, TreeCursor } from '@lezer/common';
import {
  Add,
  AtEnd,
  AtStart,
  Div,
  DurationExpr,
  MatrixSelector,
  Mod,
  Mul,
  NumberDurationLiteral,
  NumberDurationLiteralInDurationContext,
  OffsetDurationExpr,
  OffsetExpr,
  Pow,
  StepInvariantExpr,
  Sub,
  SubqueryExpr,
  UnaryOp,
  VectorSelector,
} from '@prometheus-io/lezer-promql';
import { checkInput, DEFAULT_MAX_QUERY_LENGTH, parse, skipSpace, syntaxError } from './parse.js';
import { advance } from './scan.js';

/**
 * Time facts of one expression, in milliseconds. A query evaluated from `start` to `end` reads nothing older than
 * min(start - fromStart, end - fromEnd, pinned). -Infinity / +Infinity mean "no selector of that kind".
 * A duration promgate cannot evaluate (a duration expression using step(), say) counts as infinite, so a
 * configured limit refuses it rather than guessing.
 */
export interface QueryFacts {
  /** Longest range selector `[5m]` or subquery range `[1h:]`; 0 when there is none. */
  readonly maxRange: number;
  /** Farthest a selector reads back from each evaluation time (ranges, subqueries and offsets on its path). */
  readonly fromStart: number;
  /** The same for selectors pinned with `@ end()`. */
  readonly fromEnd: number;
  /** Oldest absolute time (epoch ms) read by selectors pinned with `@ <timestamp>`. */
  readonly pinned: number;
}

export const NO_FACTS: QueryFacts = Object.freeze({
  maxRange: 0,
  fromStart: -Infinity,
  fromEnd: -Infinity,
  pinned: Infinity,
});

const UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const PART = /(\d+)(ms|s|m|h|d|w|y)/y;

/** A Prometheus duration literal (`1h30m`, `2w`) or a number of seconds (`300`, `1.5`), in ms; NaN when neither. */
export function promDuration(text: string): number {
  if (/^[0-9.]+(?:e[+-]?\d+)?$/i.test(text)) return Number(text) * 1000;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== at) return NaN;
    total += Number(m[1]) * UNIT[m[2]!]!;
  }
  return text === '' ? NaN : total;
}

/** Evaluates a (possibly arithmetic) duration node; NaN for anything it does not know (step(), min(), …). */
function durationOf(n: SyntaxNode, src: string): number {
  const id = n.type.id;
  if (id === NumberDurationLiteralInDurationContext || id === NumberDurationLiteral)
    return promDuration(src.slice(n.from, n.to));
  if (id !== DurationExpr && id !== OffsetDurationExpr) return NaN;
  const first = n.firstChild;
  if (!first) return NaN;
  if (first.type.id === UnaryOp) {
    const v = first.nextSibling ? durationOf(first.nextSibling, src) : NaN;
    return src.slice(first.from, first.to).trim() === '-' ? -v : v;
  }
  const op = first.nextSibling;
  if (!op) return durationOf(first, src);
  const rhs = op.nextSibling;
  if (!rhs) return NaN;
  const a = durationOf(first, src);
  // The right-hand side of * / % ^ is a plain number (seconds would scale it twice).
  const b = durationOf(rhs, src);
  switch (op.type.id) {
    case Add:
      return a + b;
    case Sub:
      return a - b;
    case Mul:
      return (a * b) / 1000;
    case Div:
      return (a / b) * 1000;
    case Mod:
      return a % b;
    case Pow:
      return NaN;
    default:
      return NaN;
  }
}

/** The range of a MatrixSelector or SubqueryExpr: its first duration child. */
function rangeOf(n: SyntaxNode, src: string): number {
  for (let ch = n.firstChild?.nextSibling; ch; ch = ch.nextSibling) {
    if (ch.type.id === DurationExpr) {
      const v = durationOf(ch, src);
      return Number.isNaN(v) ? Infinity : v;
    }
  }
  return Infinity;
}

function offsetOf(n: SyntaxNode, src: string): number {
  const d = n.lastChild;
  const v = d ? durationOf(d, src) : NaN;
  return Number.isNaN(v) ? Infinity : v;
}

/** The `@` target: a timestamp in ms, or 'start' / 'end'. */
function atOf(n: SyntaxNode, src: string): number | 'start' | 'end' {
  const t = n.lastChild;
  if (!t) return -Infinity;
  if (t.firstChild?.type.id === AtStart) return 'start';
  if (t.firstChild?.type.id === AtEnd) return 'end';
  const v = Number(src.slice(t.from, t.to)) * 1000;
  return Number.isNaN(v) ? -Infinity : v;
}

/** Collects facts while the enforcer walks the tree; one instance is reused, `reset` before each expression. */
export class FactsCollector {
  maxRange = 0;
  fromStart = -Infinity;
  fromEnd = -Infinity;
  pinned = Infinity;

  reset(): void {
    this.maxRange = 0;
    this.fromStart = -Infinity;
    this.fromEnd = -Infinity;
    this.pinned = Infinity;
  }

  /** Called for every node the walk visits; only ranges and selectors matter. */
  visit(c: TreeCursor, src: string): void {
    const id = c.type.id;
    if (id === MatrixSelector || id === SubqueryExpr) {
      const r = rangeOf(c.node, src);
      if (r > this.maxRange) this.maxRange = r;
    } else if (id === VectorSelector) this.selector(c.node, src);
  }

  /**
   * Walks up from a selector adding every range, subquery range and offset on its path. An `@` fixes the
   * evaluation time of what it wraps, so outer subqueries no longer move it; offsets written next to the same
   * `@` (`x @ 100 offset 1h`, nested either way round by the grammar) still apply.
   */
  private selector(node: SyntaxNode, src: string): void {
    let reach = 0;
    let at: number | 'start' | 'end' | undefined;
    for (let n = node.parent; n; n = n.parent) {
      const id = n.type.id;
      if (at !== undefined && id !== OffsetExpr && id !== StepInvariantExpr) break;
      if (id === MatrixSelector || id === SubqueryExpr) reach += rangeOf(n, src);
      else if (id === OffsetExpr) reach += offsetOf(n, src);
      else if (id === StepInvariantExpr && at === undefined) at = atOf(n, src);
    }
    if (at === undefined || at === 'start') this.fromStart = Math.max(this.fromStart, reach);
    else if (at === 'end') this.fromEnd = Math.max(this.fromEnd, reach);
    else this.pinned = Math.min(this.pinned, at - reach);
  }

  result(): QueryFacts {
    if (this.maxRange === 0 && this.fromStart === -Infinity && this.fromEnd === -Infinity && this.pinned === Infinity)
      return NO_FACTS;
    return Object.freeze({
      maxRange: this.maxRange,
      fromStart: this.fromStart,
      fromEnd: this.fromEnd,
      pinned: this.pinned,
    });
  }
}

const collector = new FactsCollector();

/**
 * Facts of a query promgate does not rewrite (an unrestricted tenant's): the one parse this request gets.
 * Refuses what does not parse, as Prometheus would.
 */
export function scanFacts(src: string, maxBytes = DEFAULT_MAX_QUERY_LENGTH): QueryFacts {
  checkInput(src, maxBytes);
  const tree = parse(src);
  if (typeof tree === 'number') {
    const at = skipSpace(src, tree);
    throw syntaxError(src, at, at);
  }
  collector.reset();
  const c = tree.cursor();
  for (;;) {
    if (c.type.isError) throw syntaxError(src, c.from, c.to);
    collector.visit(c, src);
    if (!advance(c, true)) break;
  }
  return collector.result();
}
