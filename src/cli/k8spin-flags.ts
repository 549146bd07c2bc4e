// prometheus-multi-tenant-proxy's `run` flags, with its names, defaults and PROM_PROXY_* variables, mapped onto promgate's config.
import { Option, type Command } from 'commander';

const DEFAULTS = {
  port: 9092,
  prometheusEndpoint: 'http://localhost:9091',
  unprotectedEndpoints: '/-/healthy,/-/ready',
  protectedEndpoints: '/api/v1/series,/api/v1/query,/api/v1/query_range',
  authType: 'basic',
  authConfig: 'authn.yaml',
  reloadInterval: 5,
};

export function addK8spinFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--port <port>', 'port to listen on')
        .env('PROM_PROXY_PORT')
        .default(DEFAULTS.port)
        .argParser(parsePort),
    )
    .addOption(
      new Option('--prometheus-endpoint <url>', 'Prometheus URL (single-route mode)')
        .env('PROM_PROXY_PROMETHEUS_ENDPOINT')
        .default(DEFAULTS.prometheusEndpoint),
    )
    .addOption(
      new Option('--unprotected-endpoints <paths>', 'comma-separated exact paths served without authentication')
        .env('PROM_PROXY_UNPROTECTED_ENDPOINTS')
        .default(DEFAULTS.unprotectedEndpoints),
    )
    .addOption(
      new Option(
        '--protected-endpoints <paths>',
        'comma-separated paths served (after authentication); "" serves every enforced endpoint',
      )
        .env('PROM_PROXY_PROTECTED_ENDPOINTS')
        .default(DEFAULTS.protectedEndpoints),
    )
    .addOption(
      new Option('--auth-type <type>', 'basic or jwt')
        .env('PROM_PROXY_AUTH_TYPE')
        .choices(['basic', 'jwt'])
        .default(DEFAULTS.authType),
    )
    .addOption(
      new Option('--auth-config <file|url>', 'users file (basic) or JWKS file/URL (jwt)')
        .env('PROM_PROXY_AUTH_CONFIG')
        .default(DEFAULTS.authConfig),
    )
    .addOption(
      new Option('--reload-interval <minutes>', 'reload the auth config every N minutes')
        .env('PROM_PROXY_RELOAD_INTERVAL')
        .default(DEFAULTS.reloadInterval)
        .argParser(parseMinutes),
    )
    .addOption(
      new Option('--aws [bool]', 'sign upstream requests with AWS SigV4 (service aps); --aws=false is off')
        .env('PROM_PROXY_USE_AWS')
        .default(false)
        .preset(true)
        .argParser(parseBool),
    );
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port: not a port number: "${v}"`);
  return n;
}

function parseMinutes(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--reload-interval: not a number of minutes: "${v}"`);
  return n;
}

type Source = 'default' | 'env' | 'cli' | 'config' | 'implied' | undefined;

function list(v: unknown): string[] {
  return String(v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Go's strconv.ParseBool, which prometheus-multi-tenant-proxy's boolean flag and PROM_PROXY_USE_AWS go through. */
function parseBool(v: string): boolean {
  if (/^(1|t|T|TRUE|true|True)$/.test(v)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false;
  throw new Error(`--aws / PROM_PROXY_USE_AWS: not a boolean: "${v}" (use true or false)`);
}

/**
 * Structured config overrides from these flags. With a config file, only flags the user actually gave
 * (command line or PROM_PROXY_* env) apply; without one, every flag applies with its default, exactly like
 * prometheus-multi-tenant-proxy.
 */
export function k8spinOverrides(
  opts: Record<string, unknown>,
  source: (key: string) => Source,
  hasConfigFile: boolean,
): Record<string, unknown> {
  const given = (k: string) => !hasConfigFile || source(k) === 'cli' || source(k) === 'env';
  const server: Record<string, unknown> = {};
  const route: Record<string, unknown> = {};
  const upstream: Record<string, unknown> = {};
  const auth: Record<string, unknown> = {};
  if (given('port')) server.port = opts.port;
  if (given('reloadInterval')) server.reloadInterval = Number(opts.reloadInterval) * 60_000;
  if (given('prometheusEndpoint')) upstream.url = opts.prometheusEndpoint;
  if (given('aws') && opts.aws === true) upstream.auth = { type: 'aws' };
  if (given('unprotectedEndpoints')) route.unprotectedPaths = list(opts.unprotectedEndpoints);
  if (given('protectedEndpoints')) route.protectedPaths = list(opts.protectedEndpoints);
  if (given('authType') || given('authConfig')) {
    const file = String(opts.authConfig);
    if (opts.authType === 'jwt') auth.jwt = { jwks: file };
    else auth.basic = { usersFile: file };
  }
  if (!hasConfigFile) route.prefix = '/';
  const out: Record<string, unknown> = {};
  if (Object.keys(server).length) out.server = server;
  if (Object.keys(upstream).length) route.upstream = upstream;
  if (Object.keys(route).length) out.routes = [route];
  if (Object.keys(auth).length) out.auth = auth;
  return out;
}
