// Identity headers: X-Auth-Request-* on /oauth2/auth answers (nginx, Traefik), X-Forwarded-* when promgate proxies itself.
import type { Identity } from '../authn/identity.js';
import type { OidcConfig } from '../config/schema-auth.js';

type HeaderFlags = Pick<
  OidcConfig,
  'setXAuthRequest' | 'setAuthorizationHeader' | 'passAccessToken' | 'passAuthorizationHeader' | 'passUserHeaders'
>;

/** Header values come from the provider; anything that could split or smuggle a header is removed. */
export function headerValue(v: string): string {
  return v.replace(/[\u0000-\u001f\u007f]/g, '').trim();
}

function preferredUsername(id: Identity): string | undefined {
  const p = id.claims.preferred_username;
  return typeof p === 'string' && p !== '' ? p : undefined;
}

function put(out: Record<string, string>, name: string, value: string | undefined): void {
  if (value === undefined) return;
  const v = headerValue(value);
  if (v !== '') out[name] = v;
}

/**
 * Groups joined by "," as oauth2-proxy does. A group holding a comma (an LDAP DN such as
 * `cn=admins,ou=groups`) would read back as several groups, so in each name "%" becomes "%25" and ","
 * becomes "%2C": the list splits on "," into exactly the names there were, and each decodes back.
 */
export function groupsValue(groups: readonly string[]): string | undefined {
  const clean = groups
    .map(headerValue)
    .filter((g) => g !== '')
    .map((g) => g.replace(/%/g, '%25').replace(/,/g, '%2C'));
  return clean.length > 0 ? clean.join(',') : undefined;
}

/**
 * Headers for a 202 from /oauth2/auth, as oauth2-proxy sets them: X-Auth-Request-User/-Email/-Groups/
 * -Preferred-Username with set-xauthrequest (plus -Access-Token with pass-access-token), and
 * Authorization: Bearer <id_token> with set-authorization-header. nginx copies them with auth_request_set,
 * Traefik with authResponseHeaders.
 */
export function authResponseHeaders(id: Identity, cfg: HeaderFlags): Record<string, string> {
  const out: Record<string, string> = {};
  if (cfg.setXAuthRequest) {
    put(out, 'X-Auth-Request-User', id.user);
    put(out, 'X-Auth-Request-Email', id.email);
    put(out, 'X-Auth-Request-Groups', groupsValue(id.groups));
    put(out, 'X-Auth-Request-Preferred-Username', preferredUsername(id));
    if (cfg.passAccessToken) put(out, 'X-Auth-Request-Access-Token', id.tokens?.accessToken);
  }
  if (cfg.setAuthorizationHeader && id.tokens?.idToken) put(out, 'Authorization', `Bearer ${id.tokens.idToken}`);
  return out;
}

/**
 * Headers promgate adds to the upstream request when it proxies itself. The lead's header hygiene strips
 * client-sent copies of every one of these names before they are added.
 */
export function upstreamIdentityHeaders(id: Identity, cfg: HeaderFlags): Record<string, string> {
  const out: Record<string, string> = {};
  if (cfg.passUserHeaders) {
    put(out, 'X-Forwarded-User', id.user);
    put(out, 'X-Forwarded-Email', id.email);
    put(out, 'X-Forwarded-Groups', groupsValue(id.groups));
    put(out, 'X-Forwarded-Preferred-Username', preferredUsername(id));
  }
  if (cfg.passAccessToken) put(out, 'X-Forwarded-Access-Token', id.tokens?.accessToken);
  if (cfg.passAuthorizationHeader && id.tokens?.idToken) put(out, 'Authorization', `Bearer ${id.tokens.idToken}`);
  return out;
}

/** Every header name the two functions above can set: strip client-supplied copies of these. */
export const IDENTITY_HEADER_NAMES: readonly string[] = [
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'x-auth-request-access-token',
];
