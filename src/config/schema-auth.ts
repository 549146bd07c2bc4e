// The `auth` part of the config schema: basic, JWT, OIDC sessions, anonymous.
import { z } from 'zod';
import { duration, goRegex } from './schema-common.js';
import { parseSkipRule } from '../lib/skip-rule.js';

/** `[METHOD=]regex`, `METHOD!=regex` or `!=regex`, with a regex Go's regexp accepts (oauth2-proxy's are Go regexes). */
const skipAuthRoute = z.string().superRefine((v, ctx) => {
  try {
    parseSkipRule(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const basicSchema = z.strictObject({
  usersFile: z
    .string()
    .optional()
    .describe('prometheus-multi-tenant-proxy users file (users: [{username, password, namespace(s), labels}]).'),
  htpasswdFile: z.string().optional().describe('htpasswd file (bcrypt); tenants come from tenants.rules.'),
  realm: z.string().default('promgate'),
  cacheTtl: duration()
    .prefault('5m')
    .describe('How long a verified password is remembered (keyed hash, never the password).'),
  allowPlaintext: z
    .boolean()
    .default(true)
    .describe('Accept plaintext passwords in the users file (logged as a warning).'),
});

const jwtIssuerSchema = z.strictObject({
  issuer: z.string(),
  jwks: z.string().describe('JWKS file path or http(s) URL.'),
  audience: z.union([z.string(), z.array(z.string())]).optional(),
});

const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
] as const;

const jwtSchema = z.strictObject({
  jwks: z.string().optional().describe('JWKS file path or http(s) URL (prometheus-multi-tenant-proxy --auth-config).'),
  issuer: z.string().optional(),
  audience: z.union([z.string(), z.array(z.string())]).optional(),
  issuers: z.array(jwtIssuerSchema).default([]).describe('Several issuers, each with its own JWKS.'),
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).default([...JWT_ALGORITHMS]),
  clockSkew: duration().prefault('30s'),
  namespacesClaim: z.string().default('namespaces'),
  labelsClaim: z.string().default('labels'),
  groupsClaim: z.string().default('groups'),
  userClaim: z.string().default('preferred_username'),
  emailClaim: z.string().default('email'),
  tokenHeader: z.string().default('Token').describe('Fallback header carrying the raw token.'),
  remoteTimeout: duration().prefault('5s'),
  remoteCooldown: duration().prefault('30s'),
  remoteCacheMaxAge: duration()
    .prefault('10m')
    .describe('How often a JWKS URL is re-fetched in the background (a failed fetch keeps the last good keys).'),
  cacheTtl: duration().prefault('1m').describe('How long a verified token is remembered (never past its exp).'),
  requireExp: z
    .boolean()
    .default(false)
    .describe('Refuse tokens without exp (prometheus-multi-tenant-proxy tokens often have none).'),
});

const cookieDefaults = () => ({
  name: '_oauth2_proxy',
  domains: [],
  path: '/',
  secure: true,
  sameSite: 'lax' as const,
  expire: 168 * 3_600_000,
  refresh: 0,
  csrfExpire: 600_000,
});

const oidcSchema = z
  .strictObject({
    issuerUrl: z
      .string()
      .describe(
        'OpenID provider issuer URL (oauth2-proxy --oidc-issuer-url); discovery reads <issuer>/.well-known/openid-configuration.',
      ),
    clientId: z.string(),
    clientSecret: z.string().optional(),
    clientSecretFile: z.string().optional(),
    clientAuthMethod: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
    redirectUrl: z
      .string()
      .optional()
      .describe(
        'Callback URL registered at the provider; default <proto>://<host><proxyPrefix>/callback of the request.',
      ),
    scopes: z
      .array(z.string())
      .optional()
      .describe('Default: openid email profile, plus groups when allowedGroups is set.'),
    insecure: z.boolean().default(false).describe('Allow an http:// provider (tests, labs).'),
    httpTimeout: duration().prefault('10s').describe('Timeout of each request to the provider.'),
    groupsClaim: z
      .string()
      .default('groups')
      .describe(
        'Claim holding the groups; a dotted path (realm_access.roles) works when no claim has that literal name.',
      ),
    emailClaim: z.string().default('email'),
    userClaim: z
      .string()
      .default('preferred_username')
      .describe(
        'Claim used as the user name; falls back to email, then sub. oauth2-proxy flags set it to sub, as oauth2-proxy does.',
      ),
    allowUnverifiedEmail: z.boolean().default(false).describe('Accept logins whose email_verified claim is false.'),
    emailDomains: z
      .array(z.string())
      .default(['*'])
      .describe('Allowed email domains; "*" allows every user, ".example.com" also allows subdomains.'),
    allowedGroups: z.array(z.string()).default([]),
    allowedEmails: z
      .array(z.string())
      .default([])
      .describe('Emails allowed in addition to emailDomains (oauth2-proxy --authenticated-emails-file).'),
    whitelistDomains: z
      .array(z.string())
      .default([])
      .describe(
        'Hosts that post-login redirects (rd) may go to: "example.com", ".example.com" (and subdomains), "example.com:8443", "example.com:*".',
      ),
    proxyPrefix: z.string().default('/oauth2'),
    skipProviderButton: z
      .boolean()
      .default(false)
      .describe(
        'sign_in goes straight to the provider instead of showing a page with a button (oauth2-proxy --skip-provider-button).',
      ),
    pingPath: z.string().default('/ping').describe('Liveness path served by the sign-in endpoints; "" disables.'),
    readyPath: z
      .string()
      .default('/ready')
      .describe('Readiness path (provider discovered, Redis connected); "" disables.'),
    apiRoutes: z.array(goRegex).default([]).describe('Path regexes that get 401 instead of a login redirect.'),
    skipAuthRoutes: z
      .array(skipAuthRoute)
      .default([])
      .describe('[METHOD=]path-regex rules that need no authentication (matched on the decoded path only).'),
    skipJwtBearerTokens: z.boolean().default(false),
    extraJwtIssuers: z.array(z.string()).default([]),
    setXAuthRequest: z.boolean().default(false).describe('Set X-Auth-Request-* headers on /oauth2/auth answers.'),
    setAuthorizationHeader: z
      .boolean()
      .default(false)
      .describe('Set Authorization: Bearer <id_token> on /oauth2/auth answers.'),
    passAccessToken: z.boolean().default(false),
    passAuthorizationHeader: z.boolean().default(false),
    passUserHeaders: z.boolean().default(true),
    providerLogout: z
      .boolean()
      .default(true)
      .describe('sign_out continues to the provider end_session_endpoint (RP-initiated logout) when it has one.'),
    postLogoutRedirectUrl: z
      .string()
      .optional()
      .describe('post_logout_redirect_uri when sign_out has no rd; must be registered at the provider.'),
    cookie: z
      .strictObject({
        name: z
          .string()
          .regex(/^[A-Za-z0-9_\-.]+$/, 'cookie names may use letters, digits, "_", "-" and "."')
          .default('_oauth2_proxy'),
        secret: z
          .union([z.string().transform((v) => [v]), z.array(z.string())])
          .optional()
          .describe(
            'Cookie secrets, newest first: 32 raw bytes, or base64/base64url of 16, 24 or 32 bytes. The first seals; every one opens.',
          ),
        secretFile: z.string().optional(),
        domains: z.array(z.string()).default([]),
        path: z.string().default('/'),
        secure: z.boolean().default(true),
        sameSite: z.enum(['lax', 'strict', 'none', '']).default('lax'),
        expire: duration().prefault('168h'),
        refresh: duration().prefault('0s'),
        csrfExpire: duration().prefault('10m').describe('Lifetime of the per-login CSRF cookie.'),
      })
      .default(cookieDefaults),
    sessionStore: z.enum(['cookie', 'redis']).default('cookie'),
    redisUrl: z.string().optional(),
    redisKeyPrefix: z.string().default('promgate:session:'),
  })
  .superRefine((o, ctx) => {
    // Browsers drop a prefixed cookie whose attributes break the prefix's rules (RFC 6265bis §4.1.3), which
    // would look like a sign-in loop; refuse the config instead. `__Host-` keeps a sibling subdomain from
    // planting a session cookie: it can carry no Domain and must be Secure with Path=/.
    const c = o.cookie;
    if ((c.name.startsWith('__Host-') || c.name.startsWith('__Secure-')) && !c.secure) {
      ctx.addIssue({ code: 'custom', path: ['cookie', 'secure'], message: `cookie name ${c.name} needs secure: true` });
    }
    if (c.name.startsWith('__Host-') && (c.path !== '/' || c.domains.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cookie', c.path !== '/' ? 'path' : 'domains'],
        message: `cookie name ${c.name} needs path "/" and no domains`,
      });
    }
    // Checked here (not only when the provider is built) so `promgate check` refuses what `run` would.
    let protocol: string;
    try {
      protocol = new URL(o.issuerUrl).protocol;
    } catch {
      ctx.addIssue({ code: 'custom', path: ['issuerUrl'], message: `not a URL: "${o.issuerUrl}"` });
      return;
    }
    if (protocol === 'https:' || (protocol === 'http:' && o.insecure)) return;
    ctx.addIssue({
      code: 'custom',
      path: ['issuerUrl'],
      message: `must be https:// (${protocol}// only with insecure: true, or PROMGATE_AUTH__OIDC__INSECURE=true with oauth2-proxy flags; tests and labs only)`,
    });
  });

export const authSchema = z.strictObject({
  basic: basicSchema.optional(),
  jwt: jwtSchema.optional(),
  oidc: oidcSchema.optional(),
  anonymous: z
    .boolean()
    .default(false)
    .describe('Let requests without credentials through as the anonymous identity (tenants.rules must map it).'),
});

export type AuthConfig = z.output<typeof authSchema>;
export type BasicAuthConfig = z.output<typeof basicSchema>;
export type JwtAuthConfig = z.output<typeof jwtSchema>;
export type OidcConfig = z.output<typeof oidcSchema>;
export type OidcConfigInput = z.input<typeof oidcSchema>;
