// Go-style durations ("500ms", "30s", "5m", "168h", "1h30m") as used by Prometheus and oauth2-proxy, to milliseconds.
import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}

/** A zod field accepting a duration string or a number of milliseconds; yields milliseconds. */
export function duration() {
  return z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a duration: "${v}" (use e.g. 500ms, 30s, 5m, 168h)` });
      return z.NEVER;
    }
    return ms;
  });
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i;
const SIZE_MULT: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** A byte size: a number, or "64KiB", "10MB". */
export function byteSize() {
  return z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const m = SIZE.exec(v.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `not a size: "${v}" (use e.g. 65536, 64KiB, 10MiB)` });
      return z.NEVER;
    }
    return Math.floor(Number(m[1]) * SIZE_MULT[(m[2] ?? 'b').toLowerCase()]!);
  });
}
