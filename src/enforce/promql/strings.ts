// Decodes PromQL string literals exactly as Prometheus does (Go escapes), so we can trust what a matcher means.

const DQ = 0x22; // "
const SQ = 0x27; // '
const BT = 0x60; // `
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function readHex(src: string, at: number, n: number, end: number): number {
  if (at + n > end) return -1;
  let v = 0;
  for (let j = 0; j < n; j++) {
    const d = hexDigit(src.charCodeAt(at + j));
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Decode the literal `src.slice(from, to)`; undefined when Prometheus would refuse it.
 * The lezer grammar lets a string run unterminated to the end of a line and accepts any
 * escape, so this is where those inputs are caught before they are trusted or forwarded.
 */
export function decodePromString(src: string, from: number, to: number): string | undefined {
  if (to - from < 2) return undefined;
  const quote = src.charCodeAt(from);
  if (src.charCodeAt(to - 1) !== quote) return undefined;
  const end = to - 1;
  if (quote === BT) {
    const body = src.slice(from + 1, end);
    return body.includes('`') ? undefined : body;
  }
  if (quote !== DQ && quote !== SQ) return undefined;
  let i = from + 1;
  for (; i < end; i++) {
    const ch = src.charCodeAt(i);
    if (ch === BACKSLASH) break;
    if (ch === quote || ch === NEWLINE) return undefined;
  }
  if (i === end) return src.slice(from + 1, end);
  return decodeEscaped(src, from + 1, i, end, quote);
}

/** The slow path: `start..i` is plain text, an escape begins at `i`. */
function decodeEscaped(src: string, start: number, i: number, end: number, quote: number): string | undefined {
  let out = src.slice(start, i);
  // \x and octal escapes are raw bytes; a run of them must form valid UTF-8 on its own,
  // since literal characters and \u escapes always start a new code point.
  let bytes: number[] | undefined;
  const flush = (): boolean => {
    if (bytes === undefined || bytes.length === 0) return true;
    try {
      out += utf8.decode(Uint8Array.from(bytes));
    } catch {
      return false;
    }
    bytes.length = 0;
    return true;
  };
  while (i < end) {
    const ch = src.charCodeAt(i);
    if (ch === quote || ch === NEWLINE) return undefined;
    if (ch !== BACKSLASH) {
      if (!flush()) return undefined;
      out += src[i];
      i++;
      continue;
    }
    if (i + 1 >= end) return undefined; // the backslash escapes the closing quote: unterminated
    const e = src[i + 1]!;
    const ec = src.charCodeAt(i + 1);
    i += 2;
    let byte = -1;
    if (e === 'x') {
      byte = readHex(src, i, 2, end);
      if (byte < 0) return undefined;
      i += 2;
    } else if (ec >= 0x30 && ec <= 0x37) {
      if (i + 2 > end) return undefined;
      const d1 = src.charCodeAt(i) - 0x30;
      const d2 = src.charCodeAt(i + 1) - 0x30;
      if (d1 < 0 || d1 > 7 || d2 < 0 || d2 > 7) return undefined;
      byte = (ec - 0x30) * 64 + d1 * 8 + d2;
      if (byte > 255) return undefined;
      i += 2;
    }
    if (byte >= 0) {
      (bytes ??= []).push(byte);
      continue;
    }
    if (!flush()) return undefined;
    if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const cp = readHex(src, i, n, end);
      // The Prometheus lexer refuses surrogates and anything past U+10FFFF.
      if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return undefined;
      out += String.fromCodePoint(cp);
      i += n;
    } else if (ec === quote) {
      out += e;
    } else {
      const simple = SIMPLE_ESCAPES[e];
      if (simple === undefined) return undefined;
      out += simple;
    }
  }
  return flush() ? out : undefined;
}
