// Alertmanager v2 enforcement: alert filters, defence-in-depth alert filtering, silence ownership and silence bodies.
import { GatewayError } from '../errors.js';
import type { DotMode } from '../lib/re2.js';
import { constraintMatcher, constraintTest, type LabelConstraint, type RestrictedTenant } from '../tenancy/tenant.js';
import { badResponse, isObject, keepAlerts, labelsTest, readArray, type JsonObject } from './filters/shape.js';
import { parseStrictJson, StrictJsonError, type JsonValue } from '../lib/strict-json.js';

/** One matcher of an Alertmanager v2 silence; `isEqual` absent means equality (Alertmanager's default). */
export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Quote a matcher value so that both Alertmanager matcher parsers read it back unchanged: the classic
 * one (0.25) unescapes only `\\`, `\"` and `\n` and keeps any other backslash literally, and the UTF-8
 * one (0.27+) uses Go string unquoting. JSON.stringify would be wrong: `\t` or `\u0001` stay literal.
 */
function amQuote(v: string): string {
  return `"${v.replace(/[\\"\n]/g, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`))}"`;
}

/** The `filter` values to append to GET /api/v2/alerts and /api/v2/alerts/groups (ANDed by Alertmanager). */
export function alertmanagerFilters(tenant: RestrictedTenant): string[] {
  return tenant.constraints.map((c) => {
    const m = constraintMatcher(c);
    if (!LABEL_NAME.test(m.name)) {
      const name = JSON.stringify(m.name);
      throw new GatewayError(
        'PG_TENANT_UNREPRESENTABLE',
        `label name ${name} cannot be used in an Alertmanager filter`,
      );
    }
    return `${m.name}${m.op}${amQuote(m.value)}`;
  });
}

/**
 * GET /api/v2/alerts after upstream filtering: drop any alert outside the tenant all the same, reading
 * tenant regexes as Alertmanager does (`^(?:…)$`, `.` not matching "\n": `plain`).
 */
export function filterAmAlerts(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): unknown[] {
  if (!Array.isArray(body)) throw badResponse('/api/v2/alerts: body is not an array');
  return keepAlerts(body, labelsTest(tenant, mode), '/api/v2/alerts[]');
}

/** GET /api/v2/alerts/groups after upstream filtering: drop alerts outside the tenant, then empty groups. */
export function filterAlertGroups(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): unknown[] {
  if (!Array.isArray(body)) throw badResponse('/api/v2/alerts/groups: body is not an array');
  const test = labelsTest(tenant, mode);
  const out: unknown[] = [];
  for (const g of body) {
    if (!isObject(g)) throw badResponse('/api/v2/alerts/groups[] holds a non-object');
    const alerts = readArray(g, 'alerts', '/api/v2/alerts/groups[].alerts');
    const kept = keepAlerts(alerts, test, '/api/v2/alerts/groups[].alerts[]');
    if (kept.length > 0) out.push(kept.length === alerts.length ? g : { ...g, alerts: kept });
  }
  return out;
}

function readMatcher(m: unknown): SilenceMatcher | undefined {
  if (!isObject(m)) return undefined;
  const { name, value, isRegex, isEqual } = m;
  if (typeof name !== 'string' || typeof value !== 'string' || typeof isRegex !== 'boolean') return undefined;
  if (isEqual !== undefined && typeof isEqual !== 'boolean') return undefined;
  return isEqual === undefined ? { name, value, isRegex } : { name, value, isRegex, isEqual };
}

/**
 * The literals of a regex made only of escaped literals joined by `|` (`a\.b|c`), or undefined when
 * the pattern uses any regex feature. RE2 reads a backslash before ASCII punctuation as that character.
 */
function literalAlternation(pattern: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined || !/^[!-/:-@[-`{-~]$/.test(next)) return undefined;
      cur += next;
      i++;
    } else if (ch === '|') {
      out.push(cur);
      cur = '';
    } else if (/^[\^$.?*+()[\]{}]$/.test(ch)) {
      return undefined;
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

/** True when this one matcher, whatever the others say, only lets through values inside the constraint. */
function matcherConfines(m: SilenceMatcher, c: LabelConstraint, mode: DotMode): boolean {
  if (m.name !== c.label || m.isEqual === false) return false;
  if (!m.isRegex) return constraintTest(c, mode)(m.value);
  const rendered = constraintMatcher(c);
  // Only a rendered *regex* may be compared as text: a one-value tenant `a.b` renders `a.b` as an
  // equality, and the regex `a.b` would also match `axb`.
  if (rendered.op === '=~' && m.value === rendered.value) return true;
  if (c.kind !== 'values') return false;
  const literals = literalAlternation(m.value);
  return literals !== undefined && literals.every((l) => c.values.includes(l));
}

/** A silence belongs to the tenant when every tenant constraint is confined by one of its matchers. */
export function silenceBelongsTo(silence: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): boolean {
  if (!isObject(silence) || !Array.isArray(silence.matchers)) return false;
  const matchers: SilenceMatcher[] = [];
  for (const raw of silence.matchers) {
    const m = readMatcher(raw);
    if (!m) return false;
    matchers.push(m);
  }
  return tenant.constraints.every((c) => matchers.some((m) => matcherConfines(m, c, mode)));
}

/** GET /api/v2/silences: keep the silences that belong to the tenant. */
export function filterSilences(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): unknown[] {
  if (!Array.isArray(body)) throw badResponse('/api/v2/silences: body is not an array');
  return body.filter((s) => {
    if (!isObject(s)) throw badResponse('/api/v2/silences[] holds a non-object');
    return silenceBelongsTo(s, tenant, mode);
  });
}

function badBody(message: string): GatewayError {
  return new GatewayError('PG_BAD_BODY', `silence: ${message}`);
}

/**
 * Alertmanager v2 `PostableSilence`, exactly its fields. It is the only thing promgate forwards for a
 * silence: never the client's object, whose extra keys Alertmanager might read differently.
 */
export interface PostableSilence {
  /** Absent or empty: a new silence. Otherwise the id of the silence this one replaces. */
  id?: string;
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

const SILENCE_KEYS: readonly string[] = ['id', 'matchers', 'startsAt', 'endsAt', 'createdBy', 'comment'];
const MATCHER_KEYS: readonly string[] = ['name', 'value', 'isRegex', 'isEqual'];

/**
 * Refuse any key that is not a field spelled exactly. Go's encoding/json matches field names with Unicode
 * simple case folding (`Matchers`, `matcherſ`, `ID` and `\u0049d` all land on a field) and keeps the last
 * value, so a key promgate ignored could decide what Alertmanager stores. Unknown keys are refused too:
 * Alertmanager ignores them today, and refusing them keeps that true whatever a later version adds.
 */
function exactKeys(o: JsonObject, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new GatewayError(
        'PG_BODY_UNKNOWN_KEY',
        `silence: unknown key ${JSON.stringify(k)} in ${where} (known, spelled exactly: ${allowed.join(', ')})`,
      );
    }
  }
}

function decodeMatcher(m: unknown, where: string): SilenceMatcher {
  const shape = `${where} must be {name: string, value: string, isRegex: boolean, isEqual?: boolean}`;
  if (!isObject(m)) throw badBody(shape);
  exactKeys(m, MATCHER_KEYS, where);
  const { name, value, isRegex, isEqual } = m;
  // `isEqual: null` is refused, not read as absent: Go leaves a null *bool nil, which means "equal", and
  // promgate should not have to agree with that by accident.
  if (typeof name !== 'string' || typeof value !== 'string' || typeof isRegex !== 'boolean') throw badBody(shape);
  if (Object.hasOwn(m, 'isEqual') && typeof isEqual !== 'boolean') throw badBody(shape);
  return typeof isEqual === 'boolean' ? { name, value, isRegex, isEqual } : { name, value, isRegex };
}

/**
 * Decode a parsed silence body into a PostableSilence, refusing unknown or differently spelled keys and wrong
 * JSON types (PG_BODY_UNKNOWN_KEY, PG_BAD_BODY). Duplicate keys must already have been refused by the reader
 * (readSilence does both); a JSON.parse result cannot show them.
 */
export function decodeSilence(body: unknown): PostableSilence {
  if (!isObject(body)) throw badBody('body must be a JSON object');
  exactKeys(body, SILENCE_KEYS, 'the silence');
  const raw = body.matchers;
  if (!Array.isArray(raw) || raw.length === 0) throw badBody('matchers must be a non-empty array');
  const matchers = raw.map((m, i) => decodeMatcher(m, `matchers[${i}]`));
  const { startsAt, endsAt, createdBy, comment, id } = body;
  if (typeof startsAt !== 'string') throw badBody('startsAt must be a string');
  if (typeof endsAt !== 'string') throw badBody('endsAt must be a string');
  if (typeof createdBy !== 'string') throw badBody('createdBy must be a string');
  if (typeof comment !== 'string') throw badBody('comment must be a string');
  if (Object.hasOwn(body, 'id') && typeof id !== 'string') throw badBody('id must be a string');
  const out: PostableSilence = { matchers, startsAt, endsAt, createdBy, comment };
  if (typeof id === 'string') out.id = id;
  return out;
}

/** Read a POSTed silence from its bytes: strict JSON (see strict-json.ts), then decodeSilence. */
export function readSilence(bytes: Uint8Array): PostableSilence {
  let parsed: JsonValue;
  try {
    parsed = parseStrictJson(bytes);
  } catch (e) {
    if (!(e instanceof StrictJsonError)) throw e;
    if (e.problem === 'duplicate-key') throw new GatewayError('PG_BODY_DUPLICATE_KEY', `silence: ${e.message}`);
    throw new GatewayError('PG_BAD_BODY', `silence body is not valid JSON: ${e.message}`);
  }
  return decodeSilence(parsed);
}

/**
 * Append the tenant's matcher for every constraint no user matcher already confines. Appending is safe
 * because Alertmanager ANDs a silence's matchers: an extra matcher can only narrow what the silence mutes,
 * never widen it, so the user's own matchers are kept. A silence with an `id` replaces that silence
 * upstream; the caller must first check that the existing silence belongs to the tenant (GET
 * /api/v2/silence/<id> and silenceBelongsTo) with this same id. Returns a new value; `id` is copied as is.
 */
export function enforceSilence(
  s: PostableSilence,
  tenant: RestrictedTenant,
  mode: DotMode = 'unknown',
): PostableSilence {
  if (s.id !== undefined && s.id !== '' && !UUID.test(s.id)) throw badBody('id must be a UUID');
  const added: SilenceMatcher[] = [];
  for (const c of tenant.constraints) {
    if (s.matchers.some((m) => matcherConfines(m, c, mode))) continue;
    const m = constraintMatcher(c);
    added.push({ name: m.name, value: m.value, isRegex: m.op === '=~', isEqual: true });
  }
  const out: PostableSilence = {
    matchers: [...s.matchers, ...added].map(copyMatcher),
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    createdBy: s.createdBy,
    comment: s.comment,
  };
  if (s.id !== undefined) out.id = s.id;
  return out;
}

/** decodeSilence then enforceSilence, for callers holding an already parsed body. */
export function enforceSilenceBody(
  body: unknown,
  tenant: RestrictedTenant,
  mode: DotMode = 'unknown',
): PostableSilence {
  return enforceSilence(decodeSilence(body), tenant, mode);
}

function copyMatcher(m: SilenceMatcher): SilenceMatcher {
  return m.isEqual === undefined
    ? { name: m.name, value: m.value, isRegex: m.isRegex }
    : { name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual };
}

/**
 * The JSON forwarded to Alertmanager, written field by field from the typed value, so nothing the client
 * sent reaches Alertmanager unless it was decoded and checked. JSON.stringify escapes every string so that
 * Go reads it back unchanged (the reader refused lone surrogates, the one thing Go would replace).
 */
export function serializeSilence(s: PostableSilence): string {
  const doc: Record<string, unknown> = {};
  if (s.id !== undefined) doc.id = s.id;
  doc.matchers = s.matchers.map(copyMatcher);
  doc.startsAt = s.startsAt;
  doc.endsAt = s.endsAt;
  doc.createdBy = s.createdBy;
  doc.comment = s.comment;
  return JSON.stringify(doc);
}

/** The `<id>` of `…/api/v2/silence/<id>` (pass the decoded path without its query), or PG_BAD_REQUEST. */
export function silenceId(path: string): string {
  const id = /\/api\/v2\/silence\/([^/]*)$/.exec(path)?.[1];
  if (id === undefined || !UUID.test(id)) throw new GatewayError('PG_BAD_REQUEST', 'silence id must be a UUID');
  return id;
}
