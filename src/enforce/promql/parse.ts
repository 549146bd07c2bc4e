// Input checks before parsing, the lezer parse itself, and parse errors that point at a position.
import type { Tree } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import { GatewayError } from '../../errors.js';

export const DEFAULT_MAX_QUERY_LENGTH = 65536;

/**
 * Lezer's parse time grows steeply with nesting (about 80 µs per level of `abs(`), so a
 * 64 KiB query of nothing but open parentheses would hold the event loop for seconds.
 * Real dashboards stay far below this depth.
 */
export const MAX_NESTING = 256;

function byteLengthOver(s: string, max: number): boolean {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes; only count when the answer is unclear.
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return Buffer.byteLength(s, 'utf8') > max;
}

/** 1-based position in code points, as a person counts characters. */
export function charNumber(src: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos; i++) {
    const c = src.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

const WORD = /[A-Za-z0-9_:]/;

function excerpt(src: string, pos: number, to: number): string {
  if (pos >= src.length) return 'end of input';
  let end = to > pos ? to : pos + 1;
  if (to <= pos && WORD.test(src[pos]!)) while (end < src.length && WORD.test(src[end]!)) end++;
  const text = src.slice(pos, Math.min(end, pos + 24));
  return JSON.stringify(end > pos + 24 ? `${text}…` : text);
}

export function syntaxError(src: string, pos: number, to: number, what = 'unexpected'): GatewayError {
  const e = excerpt(src, pos, to);
  const detail = e === 'end of input' ? 'unexpected end of input' : `${what} ${e}`;
  return new GatewayError('PG_BAD_QUERY', `parse error at char ${charNumber(src, pos)}: ${detail}`);
}

/**
 * Refuse what must never reach the parser: oversize, blank, lone UTF-16 surrogates (they
 * cannot be forwarded as UTF-8 unchanged) and pathological nesting. One pass, no allocation.
 */
export function checkInput(src: string, maxBytes: number): void {
  if (byteLengthOver(src, maxBytes)) {
    throw new GatewayError('PG_QUERY_TOO_LONG', `query is longer than ${maxBytes} bytes`);
  }
  let depth = 0;
  let blank = true;
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x28 || c === 0x5b || c === 0x7b) {
      if (++depth > MAX_NESTING) {
        throw new GatewayError('PG_BAD_QUERY', `query nests deeper than ${MAX_NESTING} levels`);
      }
    } else if (c === 0x29 || c === 0x5d || c === 0x7d) {
      if (depth > 0) depth--; // stray closers must not buy extra depth later
    } else if (c === 0x22 || c === 0x27 || c === 0x60 || c === 0x23) {
      // Brackets inside strings and comments do not nest; skip to their end.
      const close = c === 0x23 ? 0x0a : c;
      for (i++; i < n; i++) {
        const d = src.charCodeAt(i);
        if (d === close || (d === 0x0a && c !== 0x60)) break;
        if (d === 0x5c && c !== 0x60 && c !== 0x23) i++;
        else if (d >= 0xd800 && d <= 0xdfff) i = surrogate(src, i);
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      i = surrogate(src, i);
    }
    if (blank && c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) blank = false;
  }
  if (blank) throw new GatewayError('PG_BAD_QUERY', 'empty query');
}

/** Returns the index of the low half of a valid pair; throws on a lone surrogate. */
function surrogate(src: string, i: number): number {
  const c = src.charCodeAt(i);
  const d = src.charCodeAt(i + 1);
  if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) return i + 1;
  throw new GatewayError('PG_BAD_QUERY', `parse error at char ${charNumber(src, i)}: invalid UTF-16 surrogate`);
}

/**
 * Strict mode stops at the first error instead of recovering. Recovery would give nicer
 * trees for broken input, but costs about 40 µs per byte of junk (half a second for a few
 * KiB of `}])`), which would let any caller stall the event loop.
 */
const strictParser = parser.configure({ strict: true });
const NO_PARSE = /^No parse at (\d+)$/;

/**
 * Prometheus 2.x's `holt_winters` was renamed in 3.0, and the grammar only knows the new name. The parse
 * sees a known function name of the same length in its place, so every offset stays valid and the text
 * that is spliced and forwarded keeps `holt_winters` for a 2.x backend. Lezer does not check arity.
 */
const LEGACY_FUNCTION = /(?<![A-Za-z0-9_:])holt_winters(?=\s*\()/g;
function maskLegacy(src: string): string {
  return src.includes('holt_winters') ? src.replace(LEGACY_FUNCTION, 'day_of_month') : src;
}

/** The tree, or the position where parsing stopped. Never throws. */
export function parse(src: string): Tree | number {
  try {
    return strictParser.parse(maskLegacy(src));
  } catch (e) {
    const m = e instanceof Error ? NO_PARSE.exec(e.message) : null;
    return m ? Math.min(Number(m[1]), src.length) : 0;
  }
}

// What lezer's std.whitespace skips (wider than Prometheus, which refuses the Unicode spaces).
const LEZER_SPACE = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Lezer reports where the last good token ended; the culprit is the next real token. */
export function skipSpace(src: string, pos: number): number {
  while (pos < src.length) {
    const c = src.charCodeAt(pos);
    if (c === 0x23) {
      const nl = src.indexOf('\n', pos);
      pos = nl < 0 ? src.length : nl + 1;
    } else if (LEZER_SPACE.test(src[pos]!)) {
      pos++;
    } else {
      break;
    }
  }
  return pos;
}
