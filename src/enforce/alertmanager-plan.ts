// Plans Alertmanager v2 requests for a tenant: filtered alert reads, owned silences only.
import { GatewayError } from '../errors.js';
import type { RestrictedTenant } from '../tenancy/tenant.js';
import type { Enforcement } from './endpoints.js';
import type { EnforceInput, EnforceResult } from './plan.js';
import {
  alertmanagerFilters,
  enforceSilence,
  filterAlertGroups,
  filterAmAlerts,
  filterSilences,
  readSilence,
  serializeSilence,
  silenceBelongsTo,
} from './alertmanager.js';
import { readBody, mediaType } from '../lib/body.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function withQuery(path: string, search: string): string {
  return search === '' ? path : `${path}?${search}`;
}

/** `/api/v2/silence/<id>` → the sibling path for a given id, keeping any upstream/api prefix. */
function silencePath(upstreamPath: string, id: string): string {
  const base = upstreamPath.replace(/\/silences?(\/[^/]*)?$/, '');
  return `${base}/silence/${id}`;
}

async function checkOwned(x: EnforceInput, t: RestrictedTenant, id: string): Promise<void> {
  if (!UUID.test(id)) throw new GatewayError('PG_BAD_REQUEST', `not a silence id: "${id.slice(0, 64)}"`);
  const r = await x.lookup(silencePath(x.upstreamPath, id));
  if (r.status === 404) throw new GatewayError('PG_NOT_FOUND', `silence ${id} not found`);
  if (r.status !== 200)
    throw new GatewayError('PG_UPSTREAM_BAD_RESPONSE', `alertmanager answered ${r.status} for silence ${id}`);
  if (!silenceBelongsTo(r.json, t, x.dotMode))
    throw new GatewayError('PG_SILENCE_NOT_OWNED', `silence ${id} does not belong to your tenant`);
}

export async function planAlertmanager(x: EnforceInput, e: Enforcement, t: RestrictedTenant): Promise<EnforceResult> {
  if (e.kind === 'am-alerts') {
    const params = new URLSearchParams(x.search);
    for (const f of alertmanagerFilters(t)) params.append('filter', f);
    const fn = e.groups ? filterAlertGroups : filterAmAlerts;
    return {
      plan: {
        type: 'filter',
        method: 'GET',
        pathAndQuery: withQuery(x.upstreamPath, params.toString()),
        filter: (b) => fn(b, t, x.dotMode),
      },
      logQuery: params.getAll('filter').join(' ; '),
    };
  }
  if (e.kind === 'am-silences' && x.method !== 'POST') {
    return {
      plan: {
        type: 'filter',
        method: 'GET',
        pathAndQuery: withQuery(x.upstreamPath, x.search),
        filter: (b) => filterSilences(b, t, x.dotMode),
      },
    };
  }
  if (e.kind === 'am-silences') return planSilencePost(x, t);
  if (e.kind === 'am-silence-id') {
    const id = x.upstreamPath.slice(x.upstreamPath.lastIndexOf('/') + 1);
    await checkOwned(x, t, id);
    return {
      plan: { type: 'stream', method: x.method, pathAndQuery: withQuery(x.upstreamPath, x.search), body: null },
    };
  }
  throw new GatewayError('PG_PATH_REFUSED', 'endpoint not served');
}

/**
 * A silence created or updated: read once into a typed silence, its owner checked when it names an id, the
 * tenant's matchers enforced, and promgate's own serialisation of that value forwarded.
 */
async function planSilencePost(x: EnforceInput, t: RestrictedTenant): Promise<EnforceResult> {
  const raw = await readBody(x.req, x.maxBodyBytes);
  if (mediaType(x.req.headers['content-type']) !== 'application/json')
    throw new GatewayError('PG_UNSUPPORTED_MEDIA', 'silences must be posted as application/json');
  // promgate reads the bytes as they come and forwards its own; a body declared compressed would be read
  // one way here and another way by anything that honours the header.
  const coding = x.req.headers['content-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
    throw new GatewayError('PG_UNSUPPORTED_MEDIA', 'silences must be posted without a Content-Encoding');
  // The body is decoded once into a typed silence; the ownership check, the enforcement and the bytes
  // forwarded all come from that one value, so Alertmanager cannot read a different silence (or id).
  const silence = readSilence(raw);
  if (silence.id !== undefined && silence.id !== '') await checkOwned(x, t, silence.id);
  const body = Buffer.from(serializeSilence(enforceSilence(silence, t, x.dotMode)));
  return {
    plan: {
      type: 'stream',
      method: 'POST',
      pathAndQuery: withQuery(x.upstreamPath, x.search),
      body,
      contentType: 'application/json',
    },
  };
}
