// Small HTTP helpers the fixtures and tests use to talk to Prometheus and Alertmanager directly.
import type { IncomingHttpHeaders } from 'node:http';
export interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

interface PromEnvelope<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

/** GETs (or sends init) and parses JSON; throws with status and body text when the status is not 2xx. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(5000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** HTTP status of a GET, or 0 when the connection fails. */
export async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Calls a Prometheus API path (e.g. '/api/v1/rules') under base (which includes any route prefix). */
export async function promApi<T>(base: string, path: string, params: Record<string, string> = {}): Promise<T> {
  const qs = new URLSearchParams(params).toString();
  const env = await getJson<PromEnvelope<T>>(`${base}${path}${qs ? `?${qs}` : ''}`);
  if (env.status !== 'success') throw new Error(`${path}: ${env.errorType}: ${env.error}`);
  return env.data;
}

/** Instant query; returns the vector result (throws if the result is not a vector). */
export async function promQuery(base: string, query: string): Promise<PromVectorSample[]> {
  const data = await promApi<{ resultType: string; result: PromVectorSample[] }>(base, '/api/v1/query', { query });
  if (data.resultType !== 'vector') throw new Error(`query ${query}: expected vector, got ${data.resultType}`);
  return data.result;
}

/** Distinct values of `label` across a result set. */
export function labelValues(
  samples: readonly { metric?: Record<string, string>; labels?: Record<string, string> }[],
  label: string,
): string[] {
  const out = new Set<string>();
  for (const s of samples) {
    const v = (s.metric ?? s.labels ?? {})[label];
    if (v !== undefined) out.add(v);
  }
  return [...out].sort();
}

/** An undici answer read whole: status, headers, text, and the JSON it holds (undefined when it is not JSON). */
export async function readAnswer(r: {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: { text(): Promise<string> };
}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; json: unknown }> {
  const text = await r.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.statusCode, headers: r.headers, text, json };
}
