// The enforce stage: turns an authenticated request into the exact upstream request (or response filter) for its tenant.
import { GatewayError } from '../errors.js';
import { tenantSelector, type RestrictedTenant } from '../tenancy/tenant.js';
import { rewriteParams, defaultMatch, vmExtraFilters } from './params.js';
import type { QueryFacts } from './promql/facts.js';
import { checkQueryLimits, type QueryAdjust } from './query-limits.js';
import { filterAlerts, filterRules, filterTargets } from './filters/index.js';
import { readBody, mediaType } from '../lib/body.js';
import { planAlertmanager } from './alertmanager-plan.js';
import type { EnforceInput, EnforceResult, Plan, QueryLimits } from './plan.js';

export type { EnforceInput, EnforceResult, Plan } from './plan.js';

const FORM = 'application/x-www-form-urlencoded';

function withQuery(path: string, search: string): string {
  return search === '' ? path : `${path}?${search}`;
}

export async function enforceRequest(x: EnforceInput): Promise<EnforceResult> {
  const e = x.enforce;
  const t = x.tenant;
  if (e.kind === 'public') return passthrough(x);
  if (e.kind === 'refuse') {
    if (t.unrestricted && e.adminOk) return passthrough(x);
    throw new GatewayError('PG_PATH_REFUSED', `this endpoint is refused: ${e.reason}`);
  }
  if (e.kind === 'metadata') {
    if (t.unrestricted || x.allowMetadata) return passthrough(x);
    throw new GatewayError(
      'PG_PATH_REFUSED',
      'metadata endpoints are refused: they list metric names across tenants (set allowMetadata on the route to serve them)',
    );
  }
  // Unrestricted tenants (explicit admin policy) bypass rewriting and filtering; the pipeline logs it.
  // Query limits still apply to them: a runaway admin script hurts every tenant just the same.
  if (t.unrestricted)
    return (e.kind === 'query' || e.kind === 'match') && x.queryLimits ? planUnrestricted(x, e.kind) : passthrough(x);
  if (e.kind === 'query' || e.kind === 'match') return planQuery(x, e.kind, t);
  if (e.kind === 'filter') {
    const fn = e.filter === 'rules' ? filterRules : e.filter === 'alerts' ? filterAlerts : filterTargets;
    return {
      plan: {
        type: 'filter',
        method: 'GET',
        pathAndQuery: withQuery(x.upstreamPath, x.search),
        filter: (b) => fn(b, t, x.dotMode),
      },
    };
  }
  return planAlertmanager(x, e, t);
}

/** The request as it came: path, query string and (unless GET or HEAD) the body stream. */
function passthrough(x: EnforceInput): EnforceResult {
  return {
    plan: {
      type: 'stream',
      method: x.method,
      pathAndQuery: withQuery(x.upstreamPath, x.search),
      body: x.method === 'GET' || x.method === 'HEAD' ? null : x.req,
      contentType: x.req.headers['content-type'],
    },
  };
}

/** The request with promgate's own query string and (for a POST, even an empty one) body. */
function rebuilt(x: EnforceInput, search: string, body: Buffer | undefined | null, contentType?: string): Plan {
  return {
    type: 'stream',
    method: x.method,
    pathAndQuery: withQuery(x.upstreamPath, search),
    body: x.method === 'POST' ? (body ?? Buffer.alloc(0)) : null,
    contentType,
  };
}

/** A POST's body when it has one; Prometheus reads only form bodies, so any other media type is refused. */
async function readFormBody(x: EnforceInput): Promise<Buffer | undefined> {
  if (x.method !== 'POST') return undefined;
  const raw = await readBody(x.req, x.maxBodyBytes);
  if (raw.length === 0) return undefined;
  const mt = mediaType(x.req.headers['content-type']);
  if (mt !== FORM)
    throw new GatewayError('PG_UNSUPPORTED_MEDIA', `POST bodies must be ${FORM}, not "${mt || 'unspecified'}"`);
  return raw;
}

/**
 * A restricted tenant's query or match request: every query and match[] of the URL and the form body rewritten
 * (every other copy of them dropped), the tenant's own match[] when there was none, the query limits applied.
 */
async function planQuery(x: EnforceInput, kind: 'query' | 'match', t: RestrictedTenant): Promise<EnforceResult> {
  const facts: QueryFacts[] = [];
  const backend = x.backend ?? 'prometheus';
  const max = x.maxMatchSelectors ?? Infinity;
  const url = rewriteParams(x.search, kind, t, x.enforcer, facts, backend, { max, already: 0 });
  const raw = await readFormBody(x);
  const form =
    raw && rewriteParams(raw.toString('utf8'), kind, t, x.enforcer, facts, backend, { max, already: url.count });
  const count = url.count + (form?.count ?? 0);
  const logged = [...url.rewritten, ...(form?.rewritten ?? [])];
  if (count === 0 && kind === 'query') throw new GatewayError('PG_BAD_QUERY', 'missing "query" parameter');
  const adjust = x.queryLimits && limitQuery(x.queryLimits, kind, url.params, form?.params, facts);
  let search = adjust ? applyAdjust(adjust, url.params, form?.params) : url.text;
  const body = form ? Buffer.from(adjust ? form.params.toString() : form.text) : null;
  if (count === 0) {
    search = search === '' ? defaultMatch(t) : `${search}&${defaultMatch(t)}`;
    logged.push(tenantSelector(t));
  }
  // VictoriaMetrics: the tenant's matchers once more, as its own extra_filters[], a second layer that does
  // not depend on the PromQL rewrite (every client copy was dropped above).
  if (backend === 'victoriametrics') search = search === '' ? vmExtraFilters(t) : `${search}&${vmExtraFilters(t)}`;
  return { plan: rebuilt(x, search, body, body ? FORM : undefined), logQuery: logged.join(' ; ') };
}

/** The value Prometheus reads for a parameter: Go's FormValue takes the body's first, then the URL's. */
function effective(url: URLSearchParams, form: URLSearchParams | undefined): (name: string) => string | null {
  return (name) => (form?.has(name) ? form.get(name) : url.get(name));
}

function limitQuery(
  l: QueryLimits,
  kind: 'query' | 'match',
  url: URLSearchParams,
  form: URLSearchParams | undefined,
  facts: readonly QueryFacts[],
): QueryAdjust | undefined {
  return checkQueryLimits(l.config, l.routeTimeout, {
    apiPath: l.apiPath,
    kind,
    param: effective(url, form),
    facts,
    now: l.now,
  });
}

/** Sets each adjusted parameter once, in the body when there is one (where Prometheus looks first), and drops every other copy. */
function applyAdjust(adjust: QueryAdjust, url: URLSearchParams, form: URLSearchParams | undefined): string {
  const target = form ?? url;
  for (const [k, v] of Object.entries(adjust) as [keyof QueryAdjust, string | undefined][]) {
    if (v === undefined) continue;
    url.delete(k);
    form?.delete(k);
    target.append(k, v);
  }
  return url.toString();
}

/**
 * An unrestricted tenant's query or match request: nothing is rewritten, but the limits are checked on the facts
 * of one parse of each query, and the request goes upstream as it came unless a parameter had to be set.
 */
async function planUnrestricted(x: EnforceInput, kind: 'query' | 'match'): Promise<EnforceResult> {
  const url = new URLSearchParams(x.search);
  const raw = await readFormBody(x);
  const form = raw && new URLSearchParams(raw.toString('utf8'));
  const facts: QueryFacts[] = [];
  const l = x.queryLimits!.config;
  // Only the PromQL limits need the parse; the others read parameters alone.
  if (kind === 'query' && x.enforcer.facts && (l.maxSelectorRange !== undefined || l.maxLookback !== undefined)) {
    for (const q of form?.getAll('query') ?? []) facts.push(x.enforcer.facts(q));
    for (const q of url.getAll('query')) facts.push(x.enforcer.facts(q));
  }
  const adjust = limitQuery(x.queryLimits!, kind, url, form, facts);
  const search = adjust ? applyAdjust(adjust, url, form) : x.search;
  const body = form && adjust ? Buffer.from(form.toString()) : raw;
  return { plan: rebuilt(x, search, body, form ? FORM : x.req.headers['content-type']) };
}
