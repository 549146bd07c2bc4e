// A strict RFC 8259 JSON reader for request bodies that a Go backend reads again: refuses duplicate keys, BOMs, bad UTF-8.
//
// JSON.parse keeps the last of duplicate keys silently, accepts lone surrogates from `\ud800` escapes, and (on a
// Buffer decoded with toString) turns invalid UTF-8 into U+FFFD. Go's encoding/json makes its own choices for each
// of those, so a body that depends on them can mean one thing to promgate and another to the backend. This reader
// accepts only JSON texts whose meaning is the same for both: every object key once (compared after unescaping),
// well-formed Unicode, no byte-order mark, nothing after the value.

/** A JSON value as read by this module; objects are plain objects with own, enumerable properties only. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObjectValue;
export interface JsonObjectValue {
  [key: string]: JsonValue;
}

/** Why a text was refused: callers map `duplicate-key` to its own error code, the rest mean "not valid JSON". */
export type StrictJsonProblem = 'syntax' | 'duplicate-key' | 'encoding' | 'depth';

export class StrictJsonError extends Error {
  readonly problem: StrictJsonProblem;
  /** Index in the decoded text (UTF-16 code units) where the problem was found. */
  readonly offset: number;
  /** For `duplicate-key`: the key, decoded. */
  readonly key: string | undefined;

  constructor(problem: StrictJsonProblem, message: string, offset: number, key?: string) {
    super(`${message} at offset ${offset}`);
    this.name = 'StrictJsonError';
    this.problem = problem;
    this.offset = offset;
    this.key = key;
  }
}

export interface StrictJsonOptions {
  /** Deepest nesting of arrays and objects accepted (default 64), so a hostile body cannot exhaust the stack. */
  maxDepth?: number;
}

const DEFAULT_MAX_DEPTH = 64;

/** Parse UTF-8 bytes. A BOM or any invalid UTF-8 sequence is refused, never replaced. */
export function parseStrictJson(bytes: Uint8Array, opts: StrictJsonOptions = {}): JsonValue {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new StrictJsonError('encoding', 'byte-order mark before the JSON text', 0);
  }
  let text: string;
  try {
    // ignoreBOM keeps a BOM in the text instead of silently dropping it (the check above already refused one).
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new StrictJsonError('encoding', 'body is not valid UTF-8', 0);
  }
  return parseStrictJsonText(text, opts);
}

/** Parse a string. Lone surrogates, raw or escaped, are refused: Go would read each as U+FFFD. */
export function parseStrictJsonText(text: string, opts: StrictJsonOptions = {}): JsonValue {
  return new Reader(text, opts.maxDepth ?? DEFAULT_MAX_DEPTH).document();
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class Reader {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  document(): JsonValue {
    this.skipSpace();
    const v = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('syntax', 'unexpected data after the JSON value');
    return v;
  }

  private fail(problem: StrictJsonProblem, message: string, key?: string): never {
    throw new StrictJsonError(problem, message, this.pos, key);
  }

  /** RFC 8259 whitespace only: U+FEFF, U+00A0 and other Unicode spaces are not whitespace in JSON (nor in Go). */
  private skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  private value(depth: number): JsonValue {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(
          'syntax',
          c === undefined ? 'unexpected end of the JSON text' : `unexpected character ${JSON.stringify(c)}`,
        );
    }
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('syntax', `expected ${word}`);
    this.pos += word.length;
    return v;
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('syntax', 'malformed number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let run = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail('syntax', 'unterminated string');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(run, this.pos);
        this.pos++;
        break;
      }
      if (c < 0x20) this.fail('syntax', 'control character in a string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(run, this.pos);
      const e = t[this.pos + 1];
      if (e === 'u') {
        const hex = t.slice(this.pos + 2, this.pos + 6);
        if (!HEX4.test(hex)) this.fail('syntax', 'malformed \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 6;
      } else {
        const s = e === undefined ? undefined : SIMPLE_ESCAPES[e];
        if (s === undefined) this.fail('syntax', 'invalid escape');
        out += s;
        this.pos += 2;
      }
      run = this.pos;
    }
    // Checked on the decoded string, so a pair split across two escapes is fine and half a pair is not.
    if (!wellFormed(out)) this.fail('encoding', 'string holds a lone surrogate');
    return out;
  }

  private array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail('depth', `nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const out: JsonValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.value(depth));
      this.skipSpace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail('syntax', 'expected , or ] in an array');
      }
    }
  }

  private object(depth: number): JsonObjectValue {
    if (depth > this.maxDepth) this.fail('depth', `nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const out: JsonObjectValue = {};
    const seen = new Set<string>();
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('syntax', 'expected a string key');
      const keyAt = this.pos;
      const key = this.string();
      if (seen.has(key)) {
        this.pos = keyAt;
        this.fail('duplicate-key', `duplicate key ${JSON.stringify(key)}`, key);
      }
      seen.add(key);
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('syntax', 'expected : after a key');
      this.pos++;
      this.skipSpace();
      // defineProperty, not assignment: a key "__proto__" must become an own property, as JSON.parse makes it.
      Object.defineProperty(out, key, {
        value: this.value(depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail('syntax', 'expected , or } in an object');
      }
    }
  }
}

/** True when every surrogate in s is half of a high-low pair (String.prototype.isWellFormed, spelled out for ES2023 types). */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return false;
    const next = s.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}
