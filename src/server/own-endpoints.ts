// The gateway's own endpoints: /-/healthy, /-/ready, /metrics (when it shares the main port), sign-in and the portal.
import type { ServerResponse } from 'node:http';
import type { RequestContext } from '../pipeline/runtime.js';
import type { Runtime } from '../wiring/runtime.js';
import type { Readiness } from './readiness.js';
import { createPortal } from '../portal/endpoints.js';

export interface OwnDeps {
  readiness: Readiness;
  /** Set while SIGTERM drains: readiness fails so load balancers stop sending traffic. */
  draining: () => boolean;
  /** Circuit breakers (an open one fails readiness) and the rate-limit store (reported only). */
  protections?: () => { ok: boolean; lines: string[] };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

export function readyReport(rt: Runtime, deps: OwnDeps): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  if (deps.draining()) {
    ok = false;
    lines.push('shutting down');
  }
  for (const s of deps.readiness.snapshot()) {
    if (!s.up) ok = false;
    lines.push(`upstream ${s.route} (${s.url}): ${s.up ? 'reachable' : 'NOT reachable'} (${s.detail})`);
  }
  const p = deps.protections?.();
  if (p) {
    if (!p.ok) ok = false;
    lines.push(...p.lines);
  }
  for (const c of rt.credentials()) {
    // No credentials means every request to that upstream fails: not ready.
    if (!c.ok) ok = false;
    lines.push(`upstream credentials ${c.route} (${c.type}): ${c.ok ? 'ok' : 'NOT available'} (${c.detail})`);
  }
  const seen = new Set<unknown>();
  for (const r of rt.routes.all()) {
    const tls = r.upstream.tls;
    if (!tls || seen.has(tls)) continue;
    seen.add(tls);
    // Reported, not failing: the previous certificate still works, and failing every replica over one bad Secret would be an outage.
    const st = tls.status();
    if (!st.ok) lines.push(`upstream tls ${r.cfg.upstream.url}: WARNING ${st.detail}`);
  }
  // Reported, not failing: the last good version keeps serving, and one bad ConfigMap failing every replica
  // would turn a refused edit into an outage. promgate_config_last_reload_successful says the same.
  for (const source of rt.metrics.failedReloads())
    lines.push(`reload ${source}: WARNING last reload refused; the last good version keeps serving`);
  for (const a of rt.authenticators) {
    if (a.ready && !a.ready()) {
      ok = false;
      lines.push(`auth ${a.method}: keys or users not loaded yet`);
    }
  }
  return { ok, lines };
}

export function createOwnEndpoints(rt: Runtime, deps: OwnDeps): (ctx: RequestContext) => Promise<boolean> | boolean {
  const metricsPath = rt.cfg.server.metricsPort === undefined ? rt.cfg.server.metricsPath : undefined;
  const portal = createPortal(rt, { health: () => deps.readiness.snapshot() });
  return (ctx) => {
    const p = ctx.path;
    if (p === '/-/healthy') {
      text(ctx.res, 200, 'promgate is Healthy.\n');
      return true;
    }
    if (p === '/-/ready') {
      const r = readyReport(rt, deps);
      text(ctx.res, r.ok ? 200 : 503, `promgate is ${r.ok ? 'Ready' : 'NOT ready'}.\n${r.lines.join('\n')}\n`);
      return true;
    }
    if (metricsPath !== undefined && p === metricsPath) {
      return serveMetrics(rt, ctx.res).then(() => true);
    }
    if (rt.oauth?.handles(p)) {
      return rt.oauth.handle(ctx.req, ctx.res, new URL(ctx.req.url ?? '/', 'http://promgate')).then(() => true);
    }
    return portal ? portal(ctx) : false;
  };
}

export async function serveMetrics(rt: Runtime, res: ServerResponse): Promise<void> {
  const body = await rt.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': rt.metrics.registry.contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
