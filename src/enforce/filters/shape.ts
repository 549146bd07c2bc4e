// JSON-shape helpers every response filter shares: envelopes, label maps, arrays, and the fail-closed error.
import { GatewayError } from '../../errors.js';
import type { DotMode } from '../../lib/re2.js';
import { constraintTest, type RestrictedTenant } from '../../tenancy/tenant.js';

export type JsonObject = Record<string, unknown>;
export type Labels = Readonly<Record<string, string>>;
/** A compiled "does this label set lie inside the tenant" check. */
export type LabelsTest = (labels: Labels) => boolean;

const NO_LABELS: Labels = Object.freeze({});

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Fail closed: an answer we cannot understand is never passed on unfiltered. */
export function badResponse(what: string): GatewayError {
  return new GatewayError('PG_UPSTREAM_BAD_RESPONSE', `upstream answer has an unexpected shape: ${what}`);
}

/**
 * An RE2 test costs about a microsecond, four times a JS RegExp (bench/regex.ts), and an answer repeats
 * the same few values of the tenant's label thousands of times. Answers are remembered for one response
 * only, so the memory is bounded by the response already in memory.
 */
function remembered(test: (v: string | undefined) => boolean): (v: string | undefined) => boolean {
  const seen = new Map<string | undefined, boolean>();
  return (v) => {
    let r = seen.get(v);
    if (r === undefined) seen.set(v, (r = test(v)));
    return r;
  };
}

/**
 * Compile the tenant once per response. Unlike labelsSatisfy this reads own properties only, so a
 * constrained label called e.g. `constructor` can never be satisfied by Object.prototype. Regexes are
 * read as the backend reads them (`mode`: its `.` and "\n"); `unknown` shows only what every reading admits.
 */
export function labelsTest(tenant: RestrictedTenant, mode: DotMode = 'unknown'): LabelsTest {
  const checks = tenant.constraints.map((c) => ({
    label: c.label,
    test: c.kind === 'regex' ? remembered(constraintTest(c, mode)) : constraintTest(c, mode),
  }));
  return (labels) => {
    for (const { label, test } of checks) {
      if (!test(Object.hasOwn(labels, label) ? labels[label] : undefined)) return false;
    }
    return true;
  };
}

/**
 * Narrow a `labels` field to a string map or throw. `optional` accepts an absent or null field as the
 * empty label set: Prometheus omits `labels` on recording rules without labels.
 */
export function readLabels(v: unknown, where: string, optional = false): Labels {
  if (v === undefined || v === null) {
    if (optional) return NO_LABELS;
    throw badResponse(`${where} is missing`);
  }
  if (!isObject(v)) throw badResponse(`${where} is not an object`);
  for (const k in v) if (typeof v[k] !== 'string') throw badResponse(`${where} has a non-string value`);
  return v as Labels;
}

export function readArray(obj: JsonObject, key: string, where: string): unknown[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw badResponse(`${where} is not an array`);
  return v;
}

export type Envelope = { ok: false; body: JsonObject } | { ok: true; body: JsonObject; data: JsonObject };

/**
 * The envelope of a Prometheus API answer. An error envelope carries no series and is passed on
 * unchanged (`ok: false`); anything that is neither success nor error throws.
 */
export function readEnvelope(body: unknown, endpoint: string): Envelope {
  if (!isObject(body)) throw badResponse(`${endpoint}: body is not an object`);
  if (body.status === 'error') return { ok: false, body };
  if (body.status !== 'success') throw badResponse(`${endpoint}: status is neither "success" nor "error"`);
  if (!isObject(body.data)) throw badResponse(`${endpoint}: data is not an object`);
  return { ok: true, body, data: body.data };
}

/** Keep the alert objects whose `labels` lie inside the tenant; the objects themselves are not copied. */
export function keepAlerts(alerts: readonly unknown[], test: LabelsTest, where: string): unknown[] {
  const kept: unknown[] = [];
  for (const a of alerts) {
    if (!isObject(a)) throw badResponse(`${where} holds a non-object`);
    if (test(readLabels(a.labels, `${where}.labels`))) kept.push(a);
  }
  return kept;
}
