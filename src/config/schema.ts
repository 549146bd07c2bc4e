// The one config schema: every key, its type and its default. Everything else derives from it.
import { z } from 'zod';
import {
  byteSize,
  checkTenantRegex,
  commaList,
  duration,
  labelName,
  labelValues,
  ruleMatchSchema,
  urlPath,
} from './schema-common.js';
import { routeFrontDoorFields, upstreamFrontDoorFields, upstreamUrl } from './schema-frontdoor.js';
import { authSchema } from './schema-auth.js';
import { auditLogSchema, serverTlsSchema } from './schema-server.js';
import { breakerSchema, limitsSchema, retrySchema, tenantLimitsSchema } from './schema-limits.js';

const serverSchema = z.strictObject({
  host: z.string().default('0.0.0.0').describe('Address to listen on.'),
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(9092)
    .describe('Port to listen on (prometheus-multi-tenant-proxy default).'),
  metricsPort: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('Serve /metrics on this separate port instead of the main one.'),
  metricsPath: urlPath.default('/metrics'),
  metricsTenantLabel: z
    .boolean()
    .optional()
    .describe(
      'Label request metrics with the tenant. Default: on when /metrics has its own metricsPort, off on the main port (which needs no credentials and would name every tenant).',
    ),
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .max(1 << 20)
    .default(16384)
    .describe('Largest request line + headers accepted (431 above it).'),
  maxBodyBytes: byteSize().prefault('10MiB').describe('Largest request body accepted (413 above it).'),
  maxQueryLength: byteSize().prefault('64KiB').describe('Longest PromQL query or match[] accepted (400 above it).'),
  maxMatchSelectors: z
    .number()
    .int()
    .min(1)
    .max(100000)
    .default(256)
    .describe('Most match[] selectors in one request, URL and form body together (400 PG_TOO_MANY_MATCHERS above it).'),
  maxFilteredResponseBytes: byteSize()
    .prefault('256MiB')
    .describe('Largest upstream body read whole for filtering (rules, alerts).'),
  shutdownTimeout: duration().prefault('30s').describe('How long SIGTERM waits for in-flight requests.'),
  requestTimeout: duration().prefault('5m').describe('Whole-request limit for a client request.'),
  headersTimeout: duration()
    .prefault('60s')
    .describe(
      'Longest a client may take to send its request line and headers; a slower (slowloris) connection is answered 408 and closed.',
    ),
  keepAliveTimeout: duration().prefault('65s'),
  trustedProxies: commaList.default([]).describe('CIDRs whose X-Forwarded-* headers are trusted. Empty: trust none.'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  accessLog: z.boolean().default(true),
  readyCheckInterval: duration().prefault('5s').describe('How often upstream reachability for /-/ready is re-checked.'),
  reloadInterval: duration()
    .prefault('0s')
    .describe('Re-read config and auth files this often (0: only on change and SIGHUP).'),
  workers: z.number().int().min(1).max(64).default(1).describe('Worker processes (node:cluster).'),
  tls: serverTlsSchema.optional(),
  auditLog: auditLogSchema.default(() => auditLogSchema.parse({})),
});

const tenantHeaderSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9-]+$/, 'not an HTTP header name'),
  template: z
    .string()
    .optional()
    .describe(
      'Value; {{values.<label>}} is the tenant values of a label joined by |, {{user}} the user. Default: {{values.<tenants.namespaceLabel>}}.',
    ),
  allowFederation: z.boolean().default(false).describe('Allow a|b multi-tenant values (Mimir/Thanos federation).'),
});

const credentialTimeout = duration()
  .prefault('10s')
  .describe('Longest wait for credentials or a token (then 502 PG_UPSTREAM_CREDENTIALS).');

const upstreamAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: z.string().optional(), tokenFile: z.string().optional() }),
  z.strictObject({
    type: z.literal('basic'),
    username: z.string(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
  }),
  z
    .strictObject({ type: z.literal('passthrough') })
    .describe(
      "The caller's own credential goes upstream (its bearer token, its session's access token, or its basic credentials); never combined with a service credential.",
    ),
  z.strictObject({
    type: z.literal('aws'),
    region: z
      .string()
      .optional()
      .describe('AWS region of the workspace; default AWS_REGION, then AWS_DEFAULT_REGION (one of them is required).'),
    service: z.string().default('aps').describe('SigV4 service name (aps: Amazon Managed Service for Prometheus).'),
    roleArn: z
      .string()
      .optional()
      .describe("Role to assume (STS AssumeRole) with the default credential chain's credentials."),
    roleSessionName: z.string().optional().describe('Session name for roleArn (default promgate).'),
    externalId: z.string().optional().describe('External id for roleArn.'),
    credentialTimeout,
  }),
  z.strictObject({
    type: z.literal('azure'),
    scope: z
      .string()
      .default('https://prometheus.monitor.azure.com/.default')
      .describe('Token scope; change it for sovereign clouds.'),
    credential: z
      .enum(['auto', 'clientSecret', 'workloadIdentity', 'managedIdentity'])
      .default('auto')
      .describe(
        'auto: clientSecret when a secret is given, else workloadIdentity when a federated token file is known, else managedIdentity.',
      ),
    tenantId: z.string().optional().describe('Default AZURE_TENANT_ID.'),
    clientId: z
      .string()
      .optional()
      .describe('App registration or user-assigned identity client id; default AZURE_CLIENT_ID.'),
    clientSecret: z.string().optional(),
    clientSecretFile: z.string().optional(),
    federatedTokenFile: z
      .string()
      .optional()
      .describe('Workload identity token file; default AZURE_FEDERATED_TOKEN_FILE.'),
    authorityHost: z
      .string()
      .optional()
      .describe('Default AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com.'),
    disableInstanceDiscovery: z
      .boolean()
      .default(false)
      .describe(
        'Skip Entra ID instance discovery (private clouds, Azure Stack, tests); the authority host is then trusted as given.',
      ),
    credentialTimeout,
  }),
]);

const upstreamSchema = z.strictObject({
  url: upstreamUrl.describe(
    'Base URL; a path is kept as a prefix (e.g. http://mimir/prometheus). May be a template ({{ user }}, {{ claims.x }}): see docs/front-door.md.',
  ),
  ...upstreamFrontDoorFields,
  type: z
    .enum(['prometheus', 'alertmanager', 'thanos', 'mimir', 'victoriametrics', 'http'])
    .default('prometheus')
    .describe(
      "http: any web app behind sign-in (all paths forwarded with identity headers, no tenant enforcement). victoriametrics: single-node VictoriaMetrics or vmselect's Prometheus API; the PromQL rewrite plus VictoriaMetrics' own extra_filters[] carrying the tenant's matchers (see docs/global-view.md).",
    ),
  connectTimeout: duration().prefault('5s'),
  headersTimeout: duration().prefault('2m').describe('Time to the first response byte.'),
  bodyTimeout: duration().prefault('5m').describe('Longest gap between response body chunks.'),
  connections: z
    .number()
    .int()
    .min(1)
    .max(4096)
    .default(128)
    .describe('Pooled keep-alive connections to this upstream.'),
  readyPath: urlPath.default('/-/ready').describe('Path probed for /-/ready (relative to the URL).'),
  regexDotAll: z
    .union([z.literal('auto'), z.boolean()])
    .default('auto')
    .describe(
      'Whether the backend\'s regex "." matches a newline (Prometheus 3: yes; 2.x and Alertmanager: no). auto: from /api/v1/status/buildinfo for type prometheus, no for alertmanager; until known, and for thanos/mimir, filters assume the reading that shows less. victoriametrics: must stay auto (it reads "." both ways, see docs/global-view.md).',
    ),
  tenantHeader: tenantHeaderSchema.optional(),
  auth: upstreamAuthSchema.default({ type: 'none' }),
  tls: z
    .strictObject({
      caFile: z.string().optional().describe('CA bundle for the upstream certificate; re-read when it changes.'),
      certFile: z
        .string()
        .optional()
        .describe(
          'Client certificate (mTLS); re-read with keyFile when either changes (a broken new pair keeps the old one).',
        ),
      keyFile: z.string().optional(),
      insecureSkipVerify: z.boolean().default(false),
    })
    .optional(),
  breaker: breakerSchema
    .optional()
    .describe('Circuit breaker for this upstream: fail fast with 503 while it is down. Off when absent.'),
  retries: retrySchema
    .optional()
    .describe('Retry idempotent requests whose connection failed before anything was sent. Off when absent.'),
});

const resultsCacheSchema = z
  .strictObject({
    ttl: duration()
      .prefault('0s')
      .describe(
        "Serve a tenant's repeated query and query_range answers for this long (0: off; a few seconds is typical).",
      ),
    instantAlign: duration()
      .optional()
      .describe("Instant queries' time (absent: now) is rounded down to a multiple of this; default: the ttl."),
    maxBytes: byteSize().prefault('64MiB').describe('Memory for cached answers, per route.'),
    maxEntryBytes: byteSize().prefault('4MiB').describe('Larger answers are streamed and not kept.'),
  })
  .superRefine((c, ctx) => {
    if (c.ttl > 3_600_000)
      ctx.addIssue({ code: 'custom', path: ['ttl'], message: 'at most 1h: this cache is for answers seconds old' });
    if (c.maxEntryBytes > c.maxBytes)
      ctx.addIssue({ code: 'custom', path: ['maxEntryBytes'], message: 'larger than maxBytes' });
  });

const tenantRuleSchema = z
  .strictObject({
    name: z.string().optional(),
    match: ruleMatchSchema.default({}),
    unrestricted: z.boolean().default(false),
    labels: z
      .record(labelName, labelValues)
      .default({})
      .describe('Exact values; may use {{ user }}, {{ email }}, {{ claims.x }}, {{ group }}.'),
    regex: z.record(labelName, z.string()).default({}).describe('Regex patterns (used as =~); must not match "".'),
    groupPrefix: z.string().optional().describe('With {{ group }}: only groups with this prefix, prefix stripped.'),
    limits: tenantLimitsSchema
      .optional()
      .describe(
        'Limits for the identities this rule matches (the first matching rule with limits wins), over limits and limits.routes.',
      ),
  })
  .superRefine((r, ctx) => {
    if (!r.unrestricted && Object.keys(r.labels).length + Object.keys(r.regex).length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a rule needs labels, regex, or unrestricted: true' });
    }
    for (const [k, p] of Object.entries(r.regex)) {
      const problem = checkTenantRegex(p);
      if (problem) ctx.addIssue({ code: 'custom', path: ['regex', k], message: problem });
    }
  });

/** A route's own tenant policy; what it leaves out comes from the global tenants. */
const routeTenantsSchema = z.strictObject({
  fromClaims: z.boolean().optional().describe('Default: tenants.fromClaims.'),
  namespaceLabel: labelName.optional().describe('Default: tenants.namespaceLabel.'),
  rules: z.array(tenantRuleSchema).optional().describe('Default: tenants.rules. Rules here may not carry limits.'),
});

const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]+$/)
    .optional()
    .describe('Used in logs and metrics; defaults to the prefix.'),
  prefix: urlPath.default('/').describe('Path prefix this route owns, e.g. /clusters/host/prometheus.'),
  description: z
    .string()
    .max(300)
    .regex(/^[^\r\n]*$/, 'one line')
    .optional()
    .describe('One line shown on the portal card of this route.'),
  link: urlPath
    .refine((v) => !v.startsWith('//') && !v.includes('\\'), 'must be a path on this gateway, not //host')
    .optional()
    .describe(
      'The page the portal card links to (e.g. /clusters/east/prometheus/graph); default: the prefix with a trailing slash.',
    ),
  hidden: z.boolean().default(false).describe('Served as usual but not listed on the portal.'),
  apiPrefix: z
    .string()
    .default('')
    .describe('Extra path clients put before /api (e.g. /prometheus for Mimir); kept when forwarding.'),
  upstream: upstreamSchema,
  authMethods: z
    .array(z.enum(['cert', 'basic', 'jwt', 'session', 'anonymous']))
    .optional()
    .describe(
      'Accepted methods, tried in this order; default: every configured one (cert, session, jwt, basic, anonymous).',
    ),
  unprotectedPaths: z.array(urlPath).default([]).describe('Exact paths served without authentication.'),
  protectedPaths: z
    .array(urlPath)
    .default([])
    .describe('When set, only these paths (exact, or prefix when ending in /) are served; others get 403.'),
  allowedGroups: z.array(z.string()).default([]),
  allowedUsers: z.array(z.string()).default([]),
  allowedEmails: z.array(z.string()).default([]),
  allowMetadata: z
    .boolean()
    .default(false)
    .describe('Serve /api/v1/metadata and /api/v1/targets/metadata (they leak metric names across tenants).'),
  errorOnConflict: z
    .boolean()
    .default(false)
    .describe('Refuse (403) selectors that can never match inside the tenant.'),
  unsafePassthroughPaths: z
    .array(urlPath)
    .default([])
    .describe('DANGER: exact paths forwarded with NO tenant enforcement.'),
  resultsCache: resultsCacheSchema
    .default(() => resultsCacheSchema.parse({}))
    .describe('Opt-in short cache of query answers, keyed by tenant and the rewritten, time-aligned request.'),
  ...routeFrontDoorFields,
  tenants: routeTenantsSchema
    .optional()
    .describe("This route's tenant policy (clusters label tenants differently); falls back to the global tenants."),
});

const tenantsSchema = z.strictObject({
  fromClaims: z.boolean().default(true).describe('Use namespaces/labels from users-file entries and token claims.'),
  namespaceLabel: labelName.default('namespace'),
  rules: z.array(tenantRuleSchema).default([]),
});

const portalSchema = z.strictObject({
  path: urlPath
    .default('/')
    .describe('Where the portal page is served; its JSON twin is <path>/portal.json. Must not be a route prefix.'),
  title: z.string().max(100).default('promgate').describe('Title of the portal page.'),
});

export const configSchema = z.strictObject({
  server: serverSchema.default(() => serverSchema.parse({})),
  routes: z.array(routeSchema).default([]).describe('At least one, unless auth.oidc is set (forward-auth only).'),
  auth: authSchema.default(() => authSchema.parse({})),
  tenants: tenantsSchema.default(() => tenantsSchema.parse({})),
  limits: limitsSchema
    .default(() => limitsSchema.parse({}))
    .describe('Protecting the backends: query limits, rate and concurrency limits.'),
  portal: portalSchema
    .optional()
    .describe(
      'A page listing the routes the signed-in person may open (served only when this block is present; `portal: {}` for the defaults).',
    ),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type RouteConfig = Config['routes'][number];
export type UpstreamConfig = RouteConfig['upstream'];
export type ServerConfig = Config['server'];
export type PortalConfig = NonNullable<Config['portal']>;
export type TenantsConfig = Config['tenants'];
export type TenantRuleConfig = TenantsConfig['rules'][number];
export type RouteTenantsConfig = NonNullable<RouteConfig['tenants']>;
export type { LimitsConfig } from './schema-limits.js';
