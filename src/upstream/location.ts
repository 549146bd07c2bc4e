// Maps an upstream redirect (Location) back into the gateway's URL space: upstream origin and base path → route prefix.
import type { Upstream } from './pool.js';

export function rewriteLocation(location: string, up: Upstream, routePrefix: string): string {
  let path = location;
  if (/^https?:\/\//i.test(location)) {
    let u: URL;
    try {
      u = new URL(location);
    } catch {
      return location;
    }
    // A redirect to another site is the upstream's business; only its own origin maps back to us.
    if (u.origin !== up.origin) return location;
    path = u.pathname + u.search + u.hash;
  } else if (!location.startsWith('/') || location.startsWith('//')) return location;
  const base = up.basePath;
  if (base !== '') {
    if (path === base) path = '/';
    else if (path.startsWith(base + '/') || path.startsWith(base + '?')) path = path.slice(base.length);
    else return location;
  }
  return routePrefix === '/' ? path : routePrefix + (path === '/' ? '/' : path);
}
