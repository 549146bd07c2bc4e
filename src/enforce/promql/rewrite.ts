// The rewrite proper: one cursor pass that checks the tree and splices the tenant text into each selector.
import type { Tree, TreeCursor } from '@lezer/common';
import { Info, LineComment, StringLiteral, VectorSelector } from '@prometheus-io/lezer-promql';
import { GatewayError } from '../../errors.js';
import { formatMatcher, tenantMatchers } from '../../tenancy/tenant.js';
import type { LabelConstraint, Matcher, RestrictedTenant } from '../../tenancy/tenant.js';
import { checkConflict } from './conflict.js';
import { wholeMatcher } from '../../lib/re2.js';
import { charNumber, checkInput, DEFAULT_MAX_QUERY_LENGTH, parse, skipSpace, syntaxError } from './parse.js';
import { advance, commentIsSafe, readSelector, SelectorScan } from './scan.js';
import type { Insert } from './scan.js';
import { decodePromString } from './strings.js';
import { singleSelectorProblem, Splices, verifyRewrite } from './verify.js';
import type { FactsCollector } from './facts.js';

export interface EnforceOptions {
  /** Refuse (403) selectors whose own matchers can never match inside the tenant. */
  errorOnConflict?: boolean;
  /** Longest query accepted, in UTF-8 bytes. Default 65536. */
  maxQueryLength?: number;
  /**
   * Refuse a raw (backtick) string holding a backslash. VictoriaMetrics' MetricsQL lexer (scanString) reads
   * a backslash before a backtick as an escape, where PromQL ends the raw string: the two would see different
   * tokens, and a tenant matcher spliced after such a string could end up inside one for VictoriaMetrics.
   */
  refuseRawBackslash?: boolean;
}

export interface Prepared {
  matchers: Matcher[];
  /** `a="x",b=~"y|z"`: the text spliced into each selector. */
  text: string;
  tenant: RestrictedTenant;
}

/**
 * A matcher that accepts "" also selects every series lacking the label. A pattern Go refuses is
 * refused too (config validation stops it first): its meaning to the backend is not known here.
 */
function matchesEmpty(c: LabelConstraint): boolean {
  if (c.kind === 'values') return c.values.length === 0 || c.values.includes('');
  return wholeMatcher(c.pattern, 'unknown')?.('') !== false;
}

export function prepare(t: RestrictedTenant): Prepared {
  // Fail closed: an empty constraint list would make enforcement a no-op.
  if (t.unrestricted !== false || t.constraints.length === 0) {
    throw new GatewayError('PG_ENFORCE_VERIFY_FAILED', 'tenant has no label constraints to enforce');
  }
  for (const c of t.constraints) {
    if (matchesEmpty(c)) {
      throw new GatewayError(
        'PG_ENFORCE_VERIFY_FAILED',
        `tenant constraint on ${JSON.stringify(c.label)} matches the empty string or is not a valid Go regex`,
      );
    }
  }
  const matchers = tenantMatchers(t);
  return { matchers, text: matchers.map(formatMatcher).join(','), tenant: t };
}

const scan = new SelectorScan();
const splices = new Splices();
const BAD_WHY: Readonly<Record<string, string>> = {
  string: 'invalid string literal',
  comment: 'carriage return inside comment',
};

function insertion(kind: Insert, text: string): string {
  if (kind === 'braces') return `{${text}}`;
  return kind === 'empty' ? text : `,${text}`;
}

/**
 * `info(v)` with one argument makes Prometheus read `target_info` through a selector that
 * is not in the text, so no tenant matcher can reach it and another tenant's data labels
 * could be joined in. With the second argument the tenant matchers land in that selector.
 */
function checkInfoCall(c: TreeCursor, src: string): void {
  const body = c.node.parent?.nextSibling;
  let args = 0;
  for (let arg = body?.firstChild; arg; arg = arg.nextSibling) if (arg.type.id !== LineComment) args++;
  if (args < 2) {
    throw new GatewayError(
      'PG_BAD_QUERY',
      `info() at char ${charNumber(src, c.from)} needs a second argument, a data-label selector such as {k8s_cluster_name=~".+"}, so the info series it reads can be limited to the tenant`,
    );
  }
}

/** Every string literal, selectors' matcher values included: a raw one holding a backslash is refused. */
function checkRawStrings(tree: Tree, src: string): void {
  tree.iterate({
    enter(n) {
      if (n.type.id !== StringLiteral || src.charCodeAt(n.from) !== 0x60 /* ` */) return;
      if (!src.slice(n.from, n.to).includes('\\')) return;
      throw new GatewayError(
        'PG_BAD_QUERY',
        `the raw string at char ${charNumber(src, n.from)} holds a backslash, which VictoriaMetrics reads as an escape and PromQL does not; write it as a double-quoted string`,
      );
    },
  });
}

/**
 * The rewrite itself. Every VectorSelector gets the tenant text; nothing else changes, and
 * the pieces are joined front to back from the original offsets, so no offset ever moves.
 * With `facts`, the same walk also records how far back in time the expression reads (query limits).
 */
export function rewrite(
  src: string,
  p: Prepared,
  opts: EnforceOptions | undefined,
  single: boolean,
  facts?: FactsCollector,
): string {
  const maxBytes = opts?.maxQueryLength ?? DEFAULT_MAX_QUERY_LENGTH;
  checkInput(src, maxBytes);
  // Each selector grows by the tenant text, so `sum(x,x,x,…)` could swell 64 KiB into
  // megabytes sent upstream; cap the growth (in UTF-16 units, close enough for a bound).
  const maxOut = Math.max(8 * maxBytes, 1 << 20);
  const tree = parse(src);
  if (typeof tree === 'number') {
    const at = skipSpace(src, tree);
    throw syntaxError(src, at, at);
  }
  if (single) {
    const problem = singleSelectorProblem(tree);
    if (problem !== undefined && problem !== 'syntax') {
      throw new GatewayError(
        'PG_BAD_MATCH',
        `match[] must be a single series selector like up or {job="x"}, not ${problem}`,
      );
    }
  }
  if (opts?.refuseRawBackslash) checkRawStrings(tree, src);
  const conflicts = opts?.errorOnConflict === true;
  const c = tree.cursor();
  facts?.reset();
  let out = '';
  let last = 0;
  let grown = 0;
  splices.reset();
  for (;;) {
    const type = c.type;
    if (type.isError) throw syntaxError(src, c.from, c.to);
    let descend = true;
    facts?.visit(c, src);
    if (type.id === VectorSelector) {
      descend = false;
      readSelector(c, src, scan);
      if (scan.badAt >= 0) {
        throw syntaxError(src, scan.badAt, scan.badTo, BAD_WHY[scan.badWhy]);
      }
      if (conflicts) checkConflict(p.tenant.constraints, scan, src);
      const added = insertion(scan.insert, p.text);
      grown += added.length;
      if (src.length + grown > maxOut)
        throw new GatewayError('PG_QUERY_TOO_LONG', `rewritten query would exceed ${maxOut} characters`);
      splices.push(scan.from, scan.to, scan.insertAt, added);
    } else if (type.id === StringLiteral && decodePromString(src, c.from, c.to) === undefined) {
      throw syntaxError(src, c.from, c.to, 'invalid string literal');
    } else if (type.id === LineComment && !commentIsSafe(src, c.from, c.to)) {
      throw syntaxError(src, c.from, c.to, 'carriage return inside comment');
    } else if (type.id === Info) {
      checkInfoCall(c, src);
    }
    if (!advance(c, descend)) break;
  }
  // Joined once, front to back from the input's own offsets.
  for (let i = 0; i < splices.count; i++) {
    const at = splices.at[i]!;
    out += src.slice(last, at) + splices.added[i]!;
    last = at;
  }
  out += src.slice(last);
  verifyRewrite(out, src, splices, p.matchers);
  return out;
}
