#!/usr/bin/env node
// The promgate command line: run, demo, check, schema, hash-password, version.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { deepMerge } from '../config/merge.js';
import { ConfigError } from '../config/errors.js';
import { addK8spinFlags, k8spinOverrides } from './k8spin-flags.js';
import { runCommand } from './run.js';
import { hashPassword } from '../authn/password.js';
import { parseOauth2ProxyOptions, type Oauth2ProxyOptions } from './oauth2-proxy-flags.js';
import {
  azureProxyOverrides,
  parseAzureProxyOptions,
  parseLogLevel,
  type AzureProxyOptions,
} from './azure-proxy-flags.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function fail(message: string, code = 1): never {
  process.stderr.write(`promgate: ${message}\n`);
  process.exit(code);
}

const program = new Command('promgate')
  .description('Authenticating, multi-tenant gateway for Prometheus, Alertmanager and compatible backends')
  .version(pkg.version, '-v, --version')
  .showHelpAfterError();

const run = program
  .command('run')
  .description('start the gateway')
  .addOption(new Option('-c, --config <file>', 'YAML config file').env('PROMGATE_CONFIG'))
  .addOption(
    new Option('--metrics-port <port>', 'serve /metrics on this port instead of the main one').argParser(Number),
  )
  // Case-insensitive, so the Azure prometheus-proxy's --log-level INFO works unchanged.
  .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error (any case)').argParser(parseLogLevel))
  .addOption(new Option('--workers <n>', 'worker processes (node:cluster)').argParser(Number))
  .allowExcessArguments(false);
addK8spinFlags(run);
let oauth2: Oauth2ProxyOptions | undefined;
let azure: AzureProxyOptions | undefined;
run.action(async (opts: Record<string, unknown>) => {
  const file = opts.config as string | undefined;
  const o2 = oauth2!;
  const oauth2Mode = Object.keys(o2.oidc).length > 0 || o2.upstream !== undefined;
  const azureMode = azure?.given === true;
  const source = (k: string) => run.getOptionValueSource(k) as never;
  // Without a config file and without oauth2-proxy or Azure prometheus-proxy options, the prometheus-multi-tenant-proxy
  // flags and their defaults describe the whole gateway, exactly as that proxy behaves.
  const overrides = k8spinOverrides(opts, source, file !== undefined || oauth2Mode || azureMode);
  if (oauth2Mode) deepMerge(overrides, oauth2Overrides(o2));
  if (azureMode) {
    const portSource = run.getOptionValueSource('port');
    deepMerge(overrides, azureProxyOverrides(azure!, file !== undefined, portSource === 'cli' || portSource === 'env'));
  }
  const extra: Record<string, unknown> = {};
  if (opts.metricsPort !== undefined) extra.metricsPort = opts.metricsPort;
  if (opts.logLevel !== undefined) extra.logLevel = opts.logLevel;
  if (opts.workers !== undefined) extra.workers = opts.workers;
  if (Object.keys(extra).length) deepMerge(overrides, { server: extra });
  await runCommand({ file, overrides, env: process.env }).catch((e: Error) => fail(e.message));
});

program
  .command('demo')
  .description(
    'start real Prometheus and Alertmanager with multi-tenant demo data and promgate in front of them (Ctrl-C stops all)',
  )
  .addOption(new Option('--port <port>', 'gateway port (0: any free port)').argParser(Number).default(9092))
  .addOption(new Option('--host <address>', 'gateway address').default('127.0.0.1'))
  .addOption(
    new Option('--log-level <level>', "the gateway's log level (info shows every request)")
      .choices(['trace', 'debug', 'info', 'warn', 'error'])
      .default('warn'),
  )
  .action(async (opts: { port: number; host: string; logLevel: string }) =>
    (await import('./demo.js')).demoCommand(opts),
  );

program
  .command('check')
  .description('validate a config file and print every problem with its key path')
  .requiredOption('-c, --config <file>', 'YAML config file')
  // The schema, the loader and demo are imported when their command runs: `run` serves without them.
  .action(async (opts: { config: string }) => {
    const { loadCheckedConfig } = await import('../wiring/load.js');
    try {
      loadCheckedConfig({ file: opts.config, env: process.env });
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message, 1);
      throw e;
    }
    process.stdout.write(`${opts.config}: OK\n`);
  });

program
  .command('schema')
  .description("print the config's JSON Schema")
  .action(async () => {
    const [{ z }, { configSchema }] = await Promise.all([import('zod'), import('../config/schema.js')]);
    const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
    process.stdout.write(JSON.stringify({ ...schema, title: 'promgate configuration' }, null, 2) + '\n');
  });

program
  .command('hash-password')
  .description('print a password hash for a users file (reads the password from stdin)')
  .addOption(new Option('--algorithm <alg>', 'hash algorithm').choices(['bcrypt', 'argon2id']).default('bcrypt'))
  .option('--password <password>', 'password (prefer stdin: it stays out of shell history)')
  .action(async (opts: { algorithm: 'bcrypt' | 'argon2id'; password?: string }) => {
    let pw = opts.password;
    if (pw === undefined) {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      pw = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    if (!pw) fail('empty password');
    process.stdout.write((await hashPassword(pw, { algorithm: opts.algorithm })) + '\n');
  });

program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`promgate ${pkg.version} (node ${process.version})\n`);
  });

/** oauth2-proxy options → config: auth.oidc, server address, and `--upstream` as a generic app route. */
function oauth2Overrides(o2: Oauth2ProxyOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Object.keys(o2.oidc).length > 0) out.auth = { oidc: o2.oidc };
  if (Object.keys(o2.server).length > 0) out.server = o2.server;
  if (o2.upstream !== undefined)
    out.routes = [{ name: 'upstream', prefix: '/', upstream: { url: o2.upstream, type: 'http' } }];
  return out;
}

let argv = process.argv;
if (argv[2] === 'run') {
  // oauth2-proxy's flags and OAUTH2_PROXY_* variables are taken first; everything else goes to the parser below.
  oauth2 = parseOauth2ProxyOptions(argv.slice(3), process.env);
  if (oauth2.unsupported.length > 0)
    fail(
      `unsupported oauth2-proxy option(s): ${oauth2.unsupported.join(', ')} (see docs/migration.md, "Migrating from oauth2-proxy")`,
    );
  if (oauth2.errors.length > 0) fail(oauth2.errors.join('\n'));
  for (const name of oauth2.ignored)
    process.stderr.write(`promgate: oauth2-proxy option ${name} has no effect here and is ignored\n`);
  // Then the Azure prometheus-proxy's (--prometheus-url, --azure-*); --port and --log-level stay shared.
  azure = parseAzureProxyOptions(oauth2.rest);
  if (azure.errors.length > 0) fail(azure.errors.join('\n'));
  argv = [...argv.slice(0, 3), ...azure.rest];
}
program.parseAsync(argv).catch((e: Error) => fail(e.message));
