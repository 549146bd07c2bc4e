// oauth2-proxy's command-line flags and OAUTH2_PROXY_* variables, mapped onto auth.oidc; unknown ones left for the main parser.
import { readFileSync } from 'node:fs';
import type { OidcConfigInput } from '../config/schema-auth.js';
import { parseDuration } from '../config/duration.js';

type CookieInput = NonNullable<OidcConfigInput['cookie']>;
type Value = string | boolean | string[];
type Kind = 'string' | 'bool' | 'list' | 'duration';

export interface Oauth2ProxyOptions {
  oidc: Partial<Omit<OidcConfigInput, 'cookie'>> & { cookie?: Partial<CookieInput> };
  server: { host?: string; port?: number; trustedProxies?: string[] };
  upstream?: string;
  /** Arguments that are not oauth2-proxy options, in order, for the main parser. */
  rest: string[];
  /** oauth2-proxy options promgate does not implement (flag names, or variable names for the environment): refuse to start. */
  unsupported: string[];
  /** Options accepted without effect (logging knobs); worth a warning. */
  ignored: string[];
  errors: string[];
}

interface Ctx {
  out: Oauth2ProxyOptions;
  cookie: Partial<CookieInput>;
}

interface Spec {
  kind: Kind;
  /** The config-file name when it differs from the flag (list flags are plural there, and so in the environment). */
  cfg?: string;
  set(c: Ctx, v: Value, name: string): string | void;
}

const str = (v: Value) => (typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : String(v));
const list = (v: Value) => (Array.isArray(v) ? v : [str(v)]);
const oidc =
  <K extends keyof Oauth2ProxyOptions['oidc']>(key: K, conv: (v: Value) => Oauth2ProxyOptions['oidc'][K]) =>
  (c: Ctx, v: Value) => {
    c.out.oidc[key] = conv(v);
  };
const cookie =
  <K extends keyof CookieInput>(key: K, conv: (v: Value) => CookieInput[K]) =>
  (c: Ctx, v: Value) => {
    c.cookie[key] = conv(v);
  };
const bool = (v: Value) => v === true;
const s = (kind: Kind, set: Spec['set'], cfg?: string): Spec => ({ kind, set, cfg });

const SUPPORTED: Record<string, Spec> = {
  provider: s('string', (_c, v) =>
    str(v) === 'oidc'
      ? undefined
      : `--provider=${str(v)}: promgate speaks generic OpenID Connect only (use --provider=oidc with --oidc-issuer-url)`,
  ),
  'oidc-issuer-url': s('string', oidc('issuerUrl', str)),
  'client-id': s('string', oidc('clientId', str)),
  'client-secret': s('string', oidc('clientSecret', str)),
  'client-secret-file': s('string', oidc('clientSecretFile', str)),
  'redirect-url': s('string', oidc('redirectUrl', str)),
  'cookie-secret': s(
    'string',
    cookie('secret', (v) => [str(v)]),
  ),
  'cookie-secret-file': s('string', cookie('secretFile', str)),
  'cookie-name': s('string', cookie('name', str)),
  'cookie-domain': s('list', cookie('domains', list), 'cookie_domains'),
  'cookie-path': s('string', cookie('path', str)),
  'cookie-secure': s('bool', cookie('secure', bool)),
  'cookie-httponly': s('bool', (_c, v) =>
    v === true ? undefined : '--cookie-httponly=false: promgate session cookies are always HttpOnly',
  ),
  'cookie-samesite': s('string', (c, v) => {
    const x = str(v).toLowerCase();
    if (x !== 'lax' && x !== 'strict' && x !== 'none' && x !== '')
      return `--cookie-samesite=${str(v)}: use lax, strict, none or ""`;
    c.cookie.sameSite = x;
  }),
  'cookie-expire': s('duration', cookie('expire', str)),
  'cookie-refresh': s('duration', cookie('refresh', str)),
  'cookie-csrf-expire': s('duration', cookie('csrfExpire', str)),
  'email-domain': s('list', oidc('emailDomains', list), 'email_domains'),
  'authenticated-emails-file': s('string', (c, v) => {
    try {
      c.out.oidc.allowedEmails = readFileSync(str(v), 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
    } catch (e) {
      return `--authenticated-emails-file: cannot read "${str(v)}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  }),
  'allowed-group': s('list', oidc('allowedGroups', list), 'allowed_groups'),
  'oidc-groups-claim': s('string', oidc('groupsClaim', str)),
  'oidc-email-claim': s('string', oidc('emailClaim', str)),
  // oauth2-proxy's deprecated alias of --oidc-email-claim (the claim its user "ID", the email, comes from).
  'user-id-claim': s('string', oidc('emailClaim', str)),
  'skip-provider-button': s('bool', oidc('skipProviderButton', bool)),
  'insecure-oidc-allow-unverified-email': s('bool', oidc('allowUnverifiedEmail', bool)),
  scope: s(
    'string',
    oidc('scopes', (v) =>
      str(v)
        .split(/\s+/)
        .filter((x) => x !== ''),
    ),
  ),
  'whitelist-domain': s('list', oidc('whitelistDomains', list), 'whitelist_domains'),
  upstream: s(
    'list',
    (c, v) => {
      const ups = list(v);
      if (ups.length > 1)
        return `--upstream given ${ups.length} times: promgate takes one upstream from oauth2-proxy flags; configure more as routes`;
      const u = ups[0] ?? '';
      // static://202 is how oauth2-proxy is run as a pure forward-auth backend: no upstream route at all.
      if (/^static:\/\/\d{3}$/i.test(u)) return undefined;
      if (!/^https?:\/\//i.test(u))
        return `--upstream=${u}: only http(s):// upstreams are supported (not file://, static:// or unix://)`;
      c.out.upstream = u;
    },
    'upstreams',
  ),
  'http-address': s('string', (c, v) => {
    const m = /^(?:https?:\/\/)?(\[[^\]]*\]|[^:/]*):(\d{1,5})$/i.exec(str(v));
    if (!m || Number(m[2]) > 65535)
      return `--http-address=${str(v)}: use [http://]host:port (unix sockets are not supported)`;
    c.out.server.host = m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0';
    c.out.server.port = Number(m[2]);
  }),
  // oauth2-proxy then believes X-Forwarded-* from any peer; promgate expresses that as "trust every address".
  'reverse-proxy': s('bool', (c, v) => {
    if (v === true) c.out.server.trustedProxies = ['0.0.0.0/0', '::/0'];
  }),
  'set-xauthrequest': s('bool', oidc('setXAuthRequest', bool)),
  'set-authorization-header': s('bool', oidc('setAuthorizationHeader', bool)),
  'pass-access-token': s('bool', oidc('passAccessToken', bool)),
  'pass-authorization-header': s('bool', oidc('passAuthorizationHeader', bool)),
  'pass-user-headers': s('bool', oidc('passUserHeaders', bool)),
  'skip-jwt-bearer-tokens': s('bool', oidc('skipJwtBearerTokens', bool)),
  'extra-jwt-issuers': s('list', oidc('extraJwtIssuers', list), 'extra_jwt_issuers'),
  'skip-auth-route': s(
    'list',
    (c, v) => {
      c.out.oidc.skipAuthRoutes = [...(c.out.oidc.skipAuthRoutes ?? []), ...list(v)];
    },
    'skip_auth_routes',
  ),
  'skip-auth-regex': s(
    'list',
    (c, v) => {
      c.out.oidc.skipAuthRoutes = [...(c.out.oidc.skipAuthRoutes ?? []), ...list(v)];
    },
    'skip_auth_regex',
  ),
  'code-challenge-method': s('string', (_c, v) =>
    str(v) === 'S256' ? undefined : `--code-challenge-method=${str(v)}: promgate always uses S256`,
  ),
  'session-store-type': s('string', (c, v) => {
    const t = str(v);
    if (t !== 'cookie' && t !== 'redis') return `--session-store-type=${t}: use cookie or redis`;
    c.out.oidc.sessionStore = t;
  }),
  'redis-connection-url': s('string', oidc('redisUrl', str)),
  'proxy-prefix': s('string', oidc('proxyPrefix', str)),
  'api-route': s('list', oidc('apiRoutes', list), 'api_routes'),
  'ping-path': s('string', oidc('pingPath', str)),
  'ready-path': s('string', oidc('readyPath', str)),
};

/**
 * Known oauth2-proxy options promgate does not implement, with whether they take a value. (--config is not
 * here: it is promgate's own flag too; OAUTH2_PROXY_CONFIG is reported like every unknown variable.)
 */
const UNSUPPORTED: Record<string, 'bool' | 'value'> = {};
for (const f of [
  'github-org',
  'github-team',
  'github-repo',
  'github-token',
  'github-user',
  'gitlab-group',
  'gitlab-project',
  'google-group',
  'google-admin-email',
  'google-service-account-json',
  'google-target-principal',
  'azure-tenant',
  'azure-graph-group-field',
  'entra-id-allowed-tenant',
  'bitbucket-team',
  'bitbucket-repository',
  'keycloak-group',
  'allowed-role',
  'htpasswd-file',
  'htpasswd-user-group',
  'custom-templates-dir',
  'custom-sign-in-logo',
  'banner',
  'footer',
  'login-url',
  'redeem-url',
  'profile-url',
  'validate-url',
  'oidc-jwks-url',
  'oidc-audience-claim',
  'oidc-extra-audience',
  'oidc-public-key-file',
  'resource',
  'prompt',
  'approval-prompt',
  'acr-values',
  'jwt-key',
  'jwt-key-file',
  'pubjwk-url',
  'provider-display-name',
  'provider-ca-file',
  'backend-logout-url',
  'basic-auth-password',
  'https-address',
  'tls-cert-file',
  'tls-key-file',
  'tls-min-version',
  'tls-cipher-suite',
  'metrics-address',
  'metrics-secure-address',
  'metrics-tls-cert-file',
  'metrics-tls-key-file',
  'real-client-ip-header',
  'trusted-ip',
  'signature-key',
  'redis-username',
  'redis-password',
  'redis-sentinel-password',
  'redis-sentinel-master-name',
  'redis-ca-path',
  'redis-sentinel-connection-urls',
  'redis-cluster-connection-urls',
  'redis-connection-idle-timeout',
  'flush-interval',
  'upstream-timeout',
  'alpha-config',
  'ping-user-agent',
  'force-code-challenge-method',
  'cookie-csrf-per-request-limit',
  'cookie-csrf-samesite',
])
  UNSUPPORTED[f] = 'value';
for (const f of [
  'ssl-insecure-skip-verify',
  'ssl-upstream-insecure-skip-verify',
  'display-htpasswd-form',
  'session-cookie-minimal',
  'encode-state',
  'allow-query-semicolons',
  'force-https',
  'force-json-errors',
  'skip-auth-preflight',
  'skip-auth-strip-headers',
  'skip-claims-from-profile-url',
  'skip-oidc-discovery',
  'insecure-oidc-skip-issuer-verification',
  'use-system-trust-store',
  'set-basic-auth',
  'prefer-email-to-user',
  'pass-host-header',
  'redis-use-sentinel',
  'redis-use-cluster',
  'redis-insecure-skip-tls-verify',
  'gcp-healthchecks',
  'relative-redirect-url',
  'entra-id-federated-token-auth',
  'google-use-application-default-credentials',
])
  UNSUPPORTED[f] = 'bool';

/** Accepted and ignored: logging knobs, and switches whose safe side promgate always takes. */
const IGNORED: Record<string, 'bool' | 'value'> = {};
for (const f of [
  'request-logging-format',
  'auth-logging-format',
  'standard-logging-format',
  'exclude-logging-path',
  'logging-filename',
  'logging-max-size',
  'logging-max-age',
  'logging-max-backups',
])
  IGNORED[f] = 'value';
for (const f of [
  'silence-ping-logging',
  'request-logging',
  'auth-logging',
  'standard-logging',
  'logging-local-time',
  'logging-compress',
  'show-debug-on-error',
  'errors-to-info-log',
  'cookie-csrf-per-request',
  'insecure-oidc-skip-nonce',
  'pass-basic-auth',
  'proxy-websockets',
])
  IGNORED[f] = 'bool';

const upperSnake = (n: string) => n.toUpperCase().replace(/-/g, '_');
const ENV_PREFIX = 'OAUTH2_PROXY_';

function envNames(flag: string): string[] {
  const spec = SUPPORTED[flag];
  const names = [upperSnake(flag)];
  if (spec?.cfg) names.unshift(spec.cfg.toUpperCase());
  return names;
}

const ENV_TO_FLAG = new Map<string, string>();
for (const f of [...Object.keys(SUPPORTED), ...Object.keys(UNSUPPORTED), ...Object.keys(IGNORED)])
  for (const e of envNames(f)) ENV_TO_FLAG.set(e, f);
// List flags are plural in the environment; a few list flags outside SUPPORTED too.
for (const [env, flag] of [
  ['GITHUB_USERS', 'github-user'],
  ['GITLAB_GROUPS', 'gitlab-group'],
  ['GOOGLE_GROUPS', 'google-group'],
  ['KEYCLOAK_GROUPS', 'keycloak-group'],
  ['ALLOWED_ROLES', 'allowed-role'],
  ['TRUSTED_IPS', 'trusted-ip'],
  ['TLS_CIPHER_SUITES', 'tls-cipher-suite'],
  ['PROVIDER_CA_FILES', 'provider-ca-file'],
  ['OIDC_AUDIENCE_CLAIMS', 'oidc-audience-claim'],
  ['OIDC_EXTRA_AUDIENCES', 'oidc-extra-audience'],
  ['OIDC_PUBLIC_KEY_FILES', 'oidc-public-key-file'],
  ['HTPASSWD_USER_GROUPS', 'htpasswd-user-group'],
  ['GITLAB_PROJECTS', 'gitlab-project'],
  ['ENTRA_ID_ALLOWED_TENANTS', 'entra-id-allowed-tenant'],
] as const)
  ENV_TO_FLAG.set(env, flag);

/** pflag's StringSlice: comma-separated, double quotes protect commas. */
export function splitList(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of v) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  return undefined;
}

function convert(kind: Kind, raw: string, label: string, errors: string[]): Value | undefined {
  if (kind === 'bool') {
    const b = parseBool(raw);
    if (b === undefined) errors.push(`${label}: not a boolean: "${raw}"`);
    return b;
  }
  if (kind === 'duration' && parseDuration(raw) === undefined) {
    errors.push(`${label}: not a duration: "${raw}" (use e.g. 168h, 30m, 1h30m)`);
    return undefined;
  }
  return kind === 'list' ? splitList(raw) : raw;
}

export function parseOauth2ProxyOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Oauth2ProxyOptions {
  const out: Oauth2ProxyOptions = { oidc: {}, server: {}, rest: [], unsupported: [], ignored: [], errors: [] };
  const c: Ctx = { out, cookie: {} };
  const apply = (flag: string, v: Value, label: string) => {
    const err = SUPPORTED[flag]!.set(c, v, label);
    if (err) out.errors.push(err);
  };

  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const flag = ENV_TO_FLAG.get(key.slice(ENV_PREFIX.length));
    if (flag && SUPPORTED[flag]) {
      const v = convert(SUPPORTED[flag].kind, raw, key, out.errors);
      if (v !== undefined) apply(flag, v, key);
    } else if (flag && IGNORED[flag]) out.ignored.push(key);
    else out.unsupported.push(key);
  }

  // Command-line lists replace what the environment set, then accumulate over repeated flags.
  const cliLists = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.rest.push(...argv.slice(i));
      break;
    }
    const m = /^--?([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1];
    const known =
      name === undefined ? undefined : SUPPORTED[name] ? SUPPORTED[name].kind : (UNSUPPORTED[name] ?? IGNORED[name]);
    if (!m || !name || known === undefined) {
      out.rest.push(arg);
      continue;
    }
    const takesValue = known !== 'bool';
    let raw = m[2];
    if (raw === undefined && takesValue) {
      if (i + 1 >= argv.length) {
        out.errors.push(`--${name}: missing value`);
        continue;
      }
      raw = argv[++i]!;
    }
    if (UNSUPPORTED[name]) {
      out.unsupported.push(`--${name}`);
      continue;
    }
    if (IGNORED[name]) {
      out.ignored.push(`--${name}`);
      continue;
    }
    const spec = SUPPORTED[name]!;
    const v = raw === undefined ? true : convert(spec.kind, raw, `--${name}`, out.errors);
    if (v === undefined) continue;
    if (spec.kind === 'list') {
      const acc = [...(cliLists.get(name) ?? []), ...list(v)];
      cliLists.set(name, acc);
      if (name === 'skip-auth-route' || name === 'skip-auth-regex') {
        out.oidc.skipAuthRoutes = [
          ...(cliLists.get('skip-auth-route') ?? []),
          ...(cliLists.get('skip-auth-regex') ?? []),
        ];
      } else apply(name, acc, `--${name}`);
    } else apply(name, v, `--${name}`);
  }
  if (Object.keys(c.cookie).length > 0) out.oidc.cookie = c.cookie;
  // oauth2-proxy's user (X-Auth-Request-User, X-Forwarded-User) is the subject; its preferred_username has a header of its own.
  if (Object.keys(out.oidc).length > 0) out.oidc.userClaim ??= 'sub';
  return out;
}
