// The enforce stage: turns an authenticated request into the exact upstream request (or response filter) for its tenant.
import { GatewayError } from '../errors.js';
import { tenantSelector } from '../tenancy/tenant.js';
import { rewriteParams, defaultMatch } from './params.js';
import { filterAlerts, filterRules, filterTargets } from './filters/index.js';
import { readBody, mediaType } from '../lib/body.js';
import { planAlertmanager } from './alertmanager-plan.js';
import type { EnforceInput, EnforceResult } from './plan.js';

export type { EnforceInput, EnforceResult, Plan } from './plan.js';

const FORM = 'application/x-www-form-urlencoded';

function withQuery(path: string, search: string): string {
  return search === '' ? path : `${path}?${search}`;
}

export async function enforceRequest(x: EnforceInput): Promise<EnforceResult> {
  const e = x.enforce;
  const t = x.tenant;
  const passthrough = (): EnforceResult => ({
    plan: { type: 'stream', method: x.method, pathAndQuery: withQuery(x.upstreamPath, x.search), body: x.method === 'GET' || x.method === 'HEAD' ? null : x.req, contentType: x.req.headers['content-type'] },
  });
  if (e.kind === 'public') return passthrough();
  if (e.kind === 'refuse') {
    if (t.unrestricted && e.adminOk) return passthrough();
    throw new GatewayError('PG_PATH_REFUSED', `this endpoint is refused: ${e.reason}`);
  }
  if (e.kind === 'metadata') {
    if (t.unrestricted || x.allowMetadata) return passthrough();
    throw new GatewayError('PG_PATH_REFUSED', 'metadata endpoints are refused: they list metric names across tenants (set allowMetadata on the route to serve them)');
  }
  // Unrestricted tenants (explicit admin policy) bypass rewriting and filtering; the pipeline logs it.
  if (t.unrestricted) return passthrough();

  if (e.kind === 'query' || e.kind === 'match') {
    const url = rewriteParams(x.search, e.kind, t, x.enforcer);
    let body: Buffer | null = null;
    let count = url.count;
    const logged = [...url.rewritten];
    if (x.method === 'POST') {
      const raw = await readBody(x.req, x.maxBodyBytes);
      if (raw.length > 0) {
        const mt = mediaType(x.req.headers['content-type']);
        if (mt !== FORM) throw new GatewayError('PG_UNSUPPORTED_MEDIA', `POST bodies must be ${FORM}, not "${mt || 'unspecified'}"`);
        const form = rewriteParams(raw.toString('utf8'), e.kind, t, x.enforcer);
        count += form.count;
        logged.push(...form.rewritten);
        body = Buffer.from(form.text);
      }
    }
    let search = url.text;
    if (count === 0) {
      if (e.kind === 'query') throw new GatewayError('PG_BAD_QUERY', 'missing "query" parameter');
      search = search === '' ? defaultMatch(t) : `${search}&${defaultMatch(t)}`;
      logged.push(tenantSelector(t));
    }
    return {
      plan: { type: 'stream', method: x.method, pathAndQuery: withQuery(x.upstreamPath, search), body: x.method === 'POST' ? (body ?? Buffer.alloc(0)) : null, contentType: body ? FORM : undefined },
      logQuery: logged.join(' ; '),
    };
  }
  if (e.kind === 'filter') {
    const fn = e.filter === 'rules' ? filterRules : e.filter === 'alerts' ? filterAlerts : filterTargets;
    return { plan: { type: 'filter', method: 'GET', pathAndQuery: withQuery(x.upstreamPath, x.search), filter: (b) => fn(b, t, x.dotMode) } };
  }
  return planAlertmanager(x, e, t);
}
