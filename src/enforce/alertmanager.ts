// Alertmanager v2 enforcement: alert filters, defence-in-depth alert filtering, silence ownership and silence bodies.
import { GatewayError } from '../errors.js';
import type { DotMode } from '../lib/re2.js';
import { constraintMatcher, constraintTest, type LabelConstraint, type RestrictedTenant } from '../tenancy/tenant.js';
import { badResponse, isObject, keepAlerts, labelsTest, readArray, type JsonObject } from './filters/shape.js';

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
      throw new GatewayError('PG_TENANT_UNREPRESENTABLE', `label name ${name} cannot be used in an Alertmanager filter`);
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
 * POST /api/v2/silences: validate the body, then append the tenant's matcher for every constraint no
 * user matcher already confines. Appending is safe because Alertmanager ANDs a silence's matchers: an
 * extra matcher can only narrow what the silence mutes, never widen it, so the user's own matchers are
 * kept. A body with an `id` replaces that silence upstream; the caller must first check that the
 * existing silence belongs to the tenant (GET /api/v2/silence/<id> and silenceBelongsTo).
 */
export function enforceSilenceBody(body: unknown, tenant: RestrictedTenant, mode: DotMode = 'unknown'): JsonObject {
  if (!isObject(body)) throw badBody('body must be a JSON object');
  const raw = body.matchers;
  if (!Array.isArray(raw) || raw.length === 0) throw badBody('matchers must be a non-empty array');
  const matchers = raw.map((m, i) => {
    const parsed = readMatcher(m);
    if (!parsed) throw badBody(`matchers[${i}] must be {name: string, value: string, isRegex: boolean, isEqual?: boolean}`);
    return parsed;
  });
  for (const field of ['startsAt', 'endsAt', 'createdBy', 'comment'] as const) {
    if (typeof body[field] !== 'string') throw badBody(`${field} must be a string`);
  }
  const id = body.id;
  if (id !== undefined && id !== '' && !(typeof id === 'string' && UUID.test(id))) throw badBody('id must be a UUID');
  const added: SilenceMatcher[] = [];
  for (const c of tenant.constraints) {
    if (matchers.some((m) => matcherConfines(m, c, mode))) continue;
    const m = constraintMatcher(c);
    added.push({ name: m.name, value: m.value, isRegex: m.op === '=~', isEqual: true });
  }
  return { ...body, matchers: [...raw, ...added] };
}

/** The `<id>` of `…/api/v2/silence/<id>` (pass the decoded path without its query), or PG_BAD_REQUEST. */
export function silenceId(path: string): string {
  const id = /\/api\/v2\/silence\/([^/]*)$/.exec(path)?.[1];
  if (id === undefined || !UUID.test(id)) throw new GatewayError('PG_BAD_REQUEST', 'silence id must be a UUID');
  return id;
}
