// Proves the rewritten text before it leaves: every spliced selector re-read on its own, everything else byte-identical.
import type { Tree } from '@lezer/common';
import { LineComment, VectorSelector } from '@prometheus-io/lezer-promql';
import { GatewayError } from '../../errors.js';
import type { Matcher } from '../../tenancy/tenant.js';
import { commentIsSafe } from './scan.js';
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

/**
 * Where the rewrite spliced text, in input offsets: selector i spans [from[i], to[i]) of the input and received
 * `added[i]` at at[i]. Reused between queries (the enforcer is synchronous), so a rewrite allocates no arrays.
 */
export class Splices {
  from: number[] = [];
  to: number[] = [];
  at: number[] = [];
  added: string[] = [];
  count = 0;

  reset(): void {
    this.count = 0;
  }

  push(from: number, to: number, at: number, added: string): void {
    const i = this.count++;
    this.from[i] = from;
    this.to[i] = to;
    this.at[i] = at;
    this.added[i] = added;
  }
}

// The characters lezer's grammar skips between tokens (wider than Prometheus, which refuses the Unicode spaces:
// such a query reaches Prometheus and is refused there, as it was before this check).
function isSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

const isLetter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * An independent reader of one selector's text, following Prometheus's lexer inside braces: optional metric
 * name, `{`, matchers `label op "value"` (a label may be a quoted UTF-8 name; a lone quoted string is the metric
 * name), commas with an optional trailing one, `}`, spaces and `#` comments between tokens. It reads the
 * forwarded bytes themselves, not the tree of the input, and shares nothing with the rewrite but the string
 * decoder (which follows Go's escapes).
 */
class SelectorReader {
  private s = '';
  private i = 0;
  private end = 0;
  names: string[] = [];
  ops: string[] = [];
  values: string[] = [];
  count = 0;
  /** Why the text is not one well-formed selector, or '' when it is. */
  why = '';

  read(s: string, from: number, to: number): boolean {
    this.s = s;
    this.i = from;
    this.end = to;
    this.count = 0;
    this.why = '';
    const c = s.charCodeAt(from);
    if (isLetter(c) || c === 0x3a) {
      let j = from + 1;
      for (; j < to; j++) {
        const d = s.charCodeAt(j);
        if (!isLetter(d) && !isDigit(d) && d !== 0x3a) break;
      }
      this.push('__name__', '=', s.slice(from, j));
      this.i = j;
      if (!this.space()) return false;
    }
    if (this.i >= to || s.charCodeAt(this.i) !== 0x7b) return this.bad('no opening brace');
    this.i++;
    let first = true;
    for (;;) {
      if (!this.space()) return false;
      if (this.i >= to) return this.bad('no closing brace');
      if (s.charCodeAt(this.i) === 0x7d) break;
      if (!first) {
        if (s.charCodeAt(this.i) !== 0x2c) return this.bad('expected a comma');
        this.i++;
        if (!this.space()) return false;
        if (this.i < to && s.charCodeAt(this.i) === 0x7d) break; // trailing comma
      }
      first = false;
      if (!this.matcher()) return false;
    }
    // The closing brace must be the last byte of the selector's span: nothing of it spills into the rest.
    if (this.i !== to - 1) return this.bad('text after the closing brace');
    return true;
  }

  private matcher(): boolean {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    let name: string;
    let quoted = false;
    if (isLetter(c)) {
      let j = this.i + 1;
      while (j < this.end && (isLetter(s.charCodeAt(j)) || isDigit(s.charCodeAt(j)))) j++;
      name = s.slice(this.i, j);
      this.i = j;
    } else {
      const v = this.string();
      if (v === undefined) return false;
      name = v;
      quoted = true;
    }
    if (!this.space()) return false;
    const op = this.op();
    if (op === undefined) {
      if (!quoted) return this.bad('expected a matcher operator');
      this.push('__name__', '=', name); // {"metric.name"}
      return true;
    }
    if (!this.space()) return false;
    const v = this.string();
    if (v === undefined) return false;
    this.push(name, op, v);
    return true;
  }

  private op(): string | undefined {
    const s = this.s;
    const a = s.charCodeAt(this.i);
    const b = this.i + 1 < this.end ? s.charCodeAt(this.i + 1) : 0;
    if (a === 0x3d) {
      if (b === 0x7e) return ((this.i += 2), '=~');
      if (b === 0x3d) return undefined; // `==` is no matcher
      return ((this.i += 1), '=');
    }
    if (a === 0x21 && b === 0x3d) return ((this.i += 2), '!=');
    if (a === 0x21 && b === 0x7e) return ((this.i += 2), '!~');
    return undefined;
  }

  /** A string literal at the cursor, decoded as Go does; undefined (and `why`) when there is none. */
  private string(): string | undefined {
    const s = this.s;
    const q = s.charCodeAt(this.i);
    if (q !== 0x22 && q !== 0x27 && q !== 0x60) return void this.bad('expected a string');
    let j = this.i + 1;
    for (; j < this.end; j++) {
      const d = s.charCodeAt(j);
      if (d === q) break;
      if (q !== 0x60 && d === 0x5c) j++;
    }
    if (j >= this.end) return void this.bad('unterminated string');
    const v = decodePromString(s, this.i, j + 1);
    if (v === undefined) return void this.bad('bad string literal');
    this.i = j + 1;
    return v;
  }

  /** Skips spaces and comments; false when a comment is unsafe. */
  private space(): boolean {
    const s = this.s;
    while (this.i < this.end) {
      const c = s.charCodeAt(this.i);
      if (c === 0x23) {
        const nl = s.indexOf('\n', this.i);
        const stop = nl < 0 || nl >= this.end ? this.end : nl + 1;
        if (!commentIsSafe(s, this.i, nl < 0 || nl >= this.end ? this.end : nl))
          return this.bad('carriage return inside comment');
        this.i = stop;
      } else if (isSpace(c)) this.i++;
      else break;
    }
    return true;
  }

  private push(name: string, op: string, value: string): void {
    this.names[this.count] = name;
    this.ops[this.count] = op;
    this.values[this.count] = value;
    this.count++;
  }

  private bad(why: string): false {
    if (this.why === '') this.why = why;
    return false;
  }

  has(m: Matcher): boolean {
    for (let i = 0; i < this.count; i++) {
      if (this.names[i] === m.name && this.ops[i] === m.op && this.values[i] === m.value) return true;
    }
    return false;
  }
}

const reader = new SelectorReader();

/** True when out[outAt, outAt + n) equals src[srcAt, srcAt + n). */
function same(out: string, outAt: number, src: string, srcAt: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (out.charCodeAt(outAt + k) !== src.charCodeAt(srcAt + k)) return false;
  return true;
}

/**
 * Throws PG_ENFORCE_VERIFY_FAILED unless `out` is exactly `src` with each splice's text added at its place, and
 * each spliced selector, read back from `out` by an independent selector reader, is one well-formed selector
 * spanning exactly its new place and carrying every tenant matcher (same name, operator and decoded value).
 *
 * Why that proves the forwarded text: `src` parsed cleanly and these spans are its VectorSelectors. Outside them
 * `out` is byte-identical to `src`. Each span now holds another selector that begins with the same byte as before
 * (text is never added at a selector's first byte) and ends with `}`, which no PromQL token continues; so the
 * tokens around it are unchanged, and replacing one derivation of a selector by another leaves the rest of the
 * (context-free) grammar's derivation as it was: every selector of `out` is one of these spans.
 */
export function verifyRewrite(out: string, src: string, sp: Splices, want: readonly Matcher[]): void {
  let srcAt = 0;
  let outAt = 0;
  for (let i = 0; i < sp.count; i++) {
    const from = sp.from[i]!;
    const at = sp.at[i]!;
    const to = sp.to[i]!;
    const added = sp.added[i]!;
    if (from < srcAt || at <= from || at > to) throw failed('splice out of order', at);
    // Input up to the splice point (the rest of the text, then this selector's own head) is unchanged.
    if (!same(out, outAt, src, srcAt, at - srcAt)) throw failed('text changed before a selector', srcAt);
    const segFrom = outAt + (from - srcAt);
    outAt += at - srcAt;
    if (!same(out, outAt, added, 0, added.length)) throw failed('spliced text differs', at);
    outAt += added.length;
    srcAt = at;
    const segTo = outAt + (to - at);
    if (!reader.read(out, segFrom, segTo)) throw failed(`bad selector (${reader.why})`, segFrom);
    for (const m of want) if (!reader.has(m)) throw failed(`selector lacks ${m.name}`, segFrom);
  }
  if (out.length - outAt !== src.length - srcAt || !same(out, outAt, src, srcAt, src.length - srcAt))
    throw failed('text changed after the last selector', srcAt);
}
