// Route authorization: allowed groups, users and emails. Empty lists allow everyone the route authenticated.
import { GatewayError } from '../errors.js';
import type { Identity } from '../authn/identity.js';
import type { RouteConfig } from '../config/schema.js';

export function authorize(route: RouteConfig, id: Identity): void {
  const { allowedGroups: g, allowedUsers: u, allowedEmails: e } = route;
  if (g.length === 0 && u.length === 0 && e.length === 0) return;
  if (u.includes(id.user) || u.includes(id.subject)) return;
  if (id.email !== undefined && e.some((x) => x.toLowerCase() === id.email!.toLowerCase())) return;
  if (id.groups.some((x) => g.includes(x))) return;
  throw new GatewayError('PG_AUTHZ_DENIED', `user "${id.user}" is not allowed on this route`);
}
