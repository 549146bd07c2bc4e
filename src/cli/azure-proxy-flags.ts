// The Azure prometheus-proxy's `run` flags (names and defaults from its README), mapped onto one anonymous route signed with Entra ID.
export interface AzureProxyOptions {
  /** True when any of this family's own flags was given: promgate then behaves as that proxy. */
  given: boolean;
  prometheusUrl?: string;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Arguments that are not this family's, in order, for the main parser (`--port` and `--log-level` are shared). */
  rest: string[];
  errors: string[];
}

/** The proxy's own flags; `--port` (default 9090 there) and `--log-level` (default INFO) are parsed by the main parser. */
const FLAGS = {
  'prometheus-url': 'prometheusUrl',
  'azure-tenant-id': 'tenantId',
  'azure-client-id': 'clientId',
  'azure-client-secret': 'clientSecret',
} as const;

/** The Azure prometheus-proxy listens on 9090 by default (promgate's own default is prometheus-multi-tenant-proxy's 9092). */
export const AZURE_PROXY_DEFAULT_PORT = 9090;

/** Takes this family's flags (pflag syntax: `--name value` or `--name=value`) out of argv. */
export function parseAzureProxyOptions(argv: readonly string[]): AzureProxyOptions {
  const out: AzureProxyOptions = { given: false, rest: [], errors: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.rest.push(...argv.slice(i));
      break;
    }
    const m = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const key = m ? (FLAGS as Record<string, (typeof FLAGS)[keyof typeof FLAGS]>)[m[1]!] : undefined;
    if (!m || !key) {
      out.rest.push(arg);
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      if (i + 1 >= argv.length) {
        out.errors.push(`--${m[1]}: missing value`);
        continue;
      }
      value = argv[++i]!;
    }
    out[key] = value;
    out.given = true;
  }
  if (out.given && !out.prometheusUrl)
    out.errors.push('--prometheus-url is required (the URL of the Azure Monitor workspace query endpoint)');
  return out;
}

/**
 * Config overrides: one route for every path, admitting anyone without credentials and signing with Entra ID,
 * as the Azure proxy does (a client secret selects the app registration; without one, workload or managed
 * identity). Without a config file the anonymous identity is unrestricted (that proxy enforces nothing); with
 * one, only the upstream is set and the file's auth and tenant rules stand.
 */
export function azureProxyOverrides(
  o: AzureProxyOptions,
  hasConfigFile: boolean,
  portGiven: boolean,
): Record<string, unknown> {
  const auth: Record<string, unknown> = { type: 'azure' };
  if (o.tenantId) auth.tenantId = o.tenantId;
  if (o.clientId) auth.clientId = o.clientId;
  if (o.clientSecret) auth.clientSecret = o.clientSecret;
  const route: Record<string, unknown> = { upstream: { url: o.prometheusUrl, auth } };
  if (hasConfigFile) return { routes: [route] };
  return {
    ...(portGiven ? {} : { server: { port: AZURE_PROXY_DEFAULT_PORT } }),
    routes: [{ name: 'azure', prefix: '/', authMethods: ['anonymous'], ...route }],
    auth: { anonymous: true },
    tenants: { rules: [{ name: 'azure-prometheus-proxy', match: { users: ['anonymous'] }, unrestricted: true }] },
  };
}

/** Go-style level names (INFO, DEBUG, WARN, WARNING, ERROR) as well as pino's, case-insensitively. */
export function parseLogLevel(v: string): string {
  const l = v.trim().toLowerCase();
  const level = l === 'warning' ? 'warn' : l;
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level))
    throw new Error(`--log-level: unknown level "${v}" (trace, debug, info, warn, error)`);
  return level;
}
