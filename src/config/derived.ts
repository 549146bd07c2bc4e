// What the serving process reads off a validated config: route names and prefixes, the portal's paths, the tenant
// header's template, header-name patterns. No zod here: the schema and its validation stay out of the serving
// process (see cli/config-process.ts), and these are all it needs of them. Each function declares the few fields
// it reads, so this file imports nothing of the schema, not even its types.
import { isTemplate } from '../lib/template.js';

export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function normalizePrefix(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** The name a route is known by in logs, metrics and limits.routes: its own, or one made from its prefix. */
export function routeNameOf(r: { name?: string; prefix: string }): string {
  const prefix = normalizePrefix(r.prefix);
  return r.name ?? (prefix === '/' ? 'default' : prefix.slice(1).replace(/[^a-zA-Z0-9_.-]/g, '_'));
}

/** The two exact paths the portal serves: the page, and its JSON twin `<path>/portal.json`. */
export function portalPaths(path: string): { page: string; json: string } {
  const page = normalizePrefix(path);
  return { page, json: `${page === '/' ? '' : page}/portal.json` };
}

/** The Redis URL rate limits share buckets through: limits.redis.url, else the session store's. */
export function limitsRedisUrl(cfg: {
  limits: { redis?: { url?: string } };
  auth: { oidc?: { sessionStore: string; redisUrl?: string } };
}): string | undefined {
  if (!cfg.limits.redis) return undefined;
  const o = cfg.auth.oidc;
  return cfg.limits.redis.url ?? (o?.sessionStore === 'redis' ? o.redisUrl : undefined);
}

/** The route's tenant header template: its own, or the values of its namespace label (the route's, else the global). */
export function tenantHeaderTemplate(
  cfg: { tenants: { namespaceLabel: string } },
  route: { upstream: { tenantHeader?: { template?: string } }; tenants?: { namespaceLabel?: string } },
): string {
  const th = route.upstream.tenantHeader;
  return th?.template ?? `{{values.${route.tenants?.namespaceLabel ?? cfg.tenants.namespaceLabel}}}`;
}

/** Whether the route's upstream is chosen per identity: a templated url, or a urls list. */
export function identityRouted(u: { urls: readonly unknown[]; url: string }): boolean {
  return u.urls.length > 0 || isTemplate(u.url);
}

/** A `remove` entry as a test of lowercase header names: case-insensitive, `*` any run of characters. */
export function headerNamePattern(p: string): (name: string) => boolean {
  const lower = p.toLowerCase();
  if (!lower.includes('*')) return (n) => n === lower;
  // No RegExp: the pieces between stars must appear in order, the first at the start and the last at the end.
  const parts = lower.split('*');
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((x) => x !== '');
  return (n) => {
    if (n.length < head.length + tail.length || !n.startsWith(head) || !n.endsWith(tail)) return false;
    let at = head.length;
    const end = n.length - tail.length;
    for (const m of middle) {
      const i = n.indexOf(m, at);
      if (i < 0 || i + m.length > end) return false;
      at = i + m.length;
    }
    return true;
  };
}
