// Re-parses a rewritten query and proves every selector carries every tenant matcher before it leaves.
import type { Tree } from '@lezer/common';
import { LineComment, StringLiteral, VectorSelector } from '@prometheus-io/lezer-promql';
import { GatewayError } from '../../errors.js';
import type { Matcher } from '../../tenancy/tenant.js';
import { parse } from './parse.js';
import { advance, commentIsSafe, readSelector, SelectorScan } from './scan.js';
import { decodePromString } from './strings.js';

const SHAPES: Readonly<Record<string, string>> = {
  MatrixSelector: 'a range selector',
  SubqueryExpr: 'a subquery',
  FunctionCall: 'a function call',
  AggregateExpr: 'an aggregation',
  BinaryExpr: 'a binary operator',
  UnaryExpr: 'a unary operator',
  ParenExpr: 'parentheses',
  OffsetExpr: 'an offset modifier',
  StepInvariantExpr: 'an @ modifier',
  NumberDurationLiteral: 'a number',
  StringLiteral: 'a string',
};

/**
 * Why the expression is not one bare vector selector (comments aside), as `match[]`
 * requires; undefined when it is. Returns 'syntax' when the top level holds an error, so
 * the caller reports the parse error instead.
 */
export function singleSelectorProblem(tree: Tree): string | undefined {
  const c = tree.cursor();
  if (!c.firstChild()) return 'nothing';
  let selectors = 0;
  do {
    if (c.type.isError) return 'syntax';
    if (c.type.id === VectorSelector) selectors++;
    else if (c.type.id !== LineComment) return SHAPES[c.type.name] ?? c.type.name;
  } while (c.nextSibling());
  return selectors === 1 ? undefined : 'several selectors';
}

function failed(reason: string, at: number): GatewayError {
  // The reason is for the log (via cause), not for the client.
  return new GatewayError('PG_ENFORCE_VERIFY_FAILED', 'rewritten query failed verification', {
    cause: new Error(`${reason} at offset ${at}`),
  });
}

function hasMatcher(s: SelectorScan, m: Matcher): boolean {
  for (let i = 0; i < s.count; i++) {
    if (s.names[i] === m.name && s.ops[i] === m.op && s.values[i] === m.value) return true;
  }
  return false;
}

const scan = new SelectorScan();

/**
 * Throws PG_ENFORCE_VERIFY_FAILED unless `out` parses cleanly, holds exactly `selectors`
 * vector selectors, and each one has every tenant matcher with the same name, operator
 * and decoded value. Independent of how the rewrite placed the text.
 */
export function verifyRewrite(out: string, want: readonly Matcher[], selectors: number, single: boolean): void {
  const tree = parse(out);
  if (typeof tree === 'number') throw failed('parse error', tree);
  if (single && singleSelectorProblem(tree) !== undefined) throw failed('not a single selector', 0);
  const c = tree.cursor();
  let seen = 0;
  for (;;) {
    const type = c.type;
    if (type.isError) throw failed('parse error', c.from);
    let descend = true;
    if (type.id === VectorSelector) {
      descend = false;
      seen++;
      readSelector(c, out, scan);
      if (scan.badAt >= 0) throw failed(`bad selector (${scan.badWhy})`, scan.badAt);
      for (const m of want) if (!hasMatcher(scan, m)) throw failed(`selector lacks ${m.name}`, scan.from);
    } else if (type.id === StringLiteral && decodePromString(out, c.from, c.to) === undefined) {
      throw failed('bad string literal', c.from);
    } else if (type.id === LineComment && !commentIsSafe(out, c.from, c.to)) {
      throw failed('carriage return inside comment', c.from);
    }
    if (!advance(c, descend)) break;
  }
  if (seen !== selectors) throw failed(`found ${seen} selectors, expected ${selectors}`, 0);
}
