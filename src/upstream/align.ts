// Normalizes the time parameters of query and query_range for the results cache, as Cortex/Thanos query frontends do.

/** Seconds since the epoch from a Prometheus time parameter (unix float or RFC 3339), or undefined. */
export function parseTimeParam(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  if (Number.isFinite(n)) return n;
  // Prometheus' min/max sentinels and anything else that is not a plain date are left uncached.
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

const STEP_PART = /(\d+)(ms|s|m|h|d|w|y)/y;
const STEP_UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** A query_range step in seconds (a float, or a Prometheus duration such as 15s or 1m30s), or undefined. */
export function parseStepParam(text: string): number | undefined {
  const t = text.trim();
  const n = Number(t);
  if (t !== '' && Number.isFinite(n)) return n > 0 ? n : undefined;
  STEP_PART.lastIndex = 0;
  let total = 0;
  while (STEP_PART.lastIndex < t.length) {
    const at = STEP_PART.lastIndex;
    const m = STEP_PART.exec(t);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * STEP_UNIT_S[m[2]!]!;
  }
  return total > 0 ? total : undefined;
}

/** Milliseconds as the shortest exact decimal of seconds ("1700000000", "1700000000.5"). */
function seconds(ms: number): string {
  return String(ms / 1000);
}

/**
 * The parameters of a cacheable call, with its times aligned so that callers a moment apart ask the very
 * same thing: query_range `start`/`end` rounded down to a multiple of `step`, an instant query's `time`
 * (absent means now) rounded down to a multiple of `instantAlignMs`. The aligned form is what is sent
 * upstream, so a cached answer is exactly the answer to the request it is stored under. Undefined when the
 * call is not one to cache (another API, a parameter repeated or unparseable: Prometheus reports those).
 */
export function alignParams(
  kind: 'query' | 'query_range',
  form: string,
  nowMs: number,
  instantAlignMs: number,
): string | undefined {
  const p = new URLSearchParams(form);
  for (const name of ['query', 'time', 'start', 'end', 'step']) if (p.getAll(name).length > 1) return undefined;
  if (!p.has('query')) return undefined;
  if (kind === 'query') {
    const given = p.get('time');
    const t = given === null ? nowMs / 1000 : parseTimeParam(given);
    if (t === undefined) return undefined;
    const ms = Math.round(t * 1000);
    const aligned = instantAlignMs > 0 ? Math.floor(ms / instantAlignMs) * instantAlignMs : ms;
    p.set('time', seconds(aligned));
  } else {
    const start = parseTimeParam(p.get('start') ?? '');
    const end = parseTimeParam(p.get('end') ?? '');
    const step = parseStepParam(p.get('step') ?? '');
    if (start === undefined || end === undefined || step === undefined) return undefined;
    // In milliseconds, as Prometheus evaluates: whole-millisecond steps align exactly.
    const stepMs = Math.round(step * 1000);
    if (stepMs <= 0) return undefined;
    const a = (s: number): number => Math.floor(Math.round(s * 1000) / stepMs) * stepMs;
    p.set('start', seconds(a(start)));
    p.set('end', seconds(a(end)));
    p.set('step', seconds(stepMs));
  }
  return p.toString();
}
