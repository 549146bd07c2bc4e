#!/usr/bin/env node
// The promgate command line: run, check, schema, hash-password, version.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { loadConfig, deepMerge } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { addK8spinFlags, k8spinOverrides } from './k8spin-flags.js';
import { runCommand } from './run.js';
import { hashPassword } from '../authn/password.js';

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
  .addOption(new Option('--metrics-port <port>', 'serve /metrics on this port instead of the main one').argParser(Number))
  .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
  .addOption(new Option('--workers <n>', 'worker processes (node:cluster)').argParser(Number))
  .allowExcessArguments(false);
addK8spinFlags(run);
run.action(async (opts: Record<string, unknown>) => {
  const file = opts.config as string | undefined;
  const overrides = k8spinOverrides(opts, (k) => run.getOptionValueSource(k) as never, file !== undefined);
  const extra: Record<string, unknown> = {};
  if (opts.metricsPort !== undefined) extra.metricsPort = opts.metricsPort;
  if (opts.logLevel !== undefined) extra.logLevel = opts.logLevel;
  if (opts.workers !== undefined) extra.workers = opts.workers;
  if (Object.keys(extra).length) deepMerge(overrides, { server: extra });
  await runCommand({ file, overrides, env: process.env }).catch((e: Error) => fail(e.message));
});

program
  .command('check')
  .description('validate a config file and print every problem with its key path')
  .requiredOption('-c, --config <file>', 'YAML config file')
  .action((opts: { config: string }) => {
    try {
      loadConfig({ file: opts.config, env: process.env });
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message, 1);
      throw e;
    }
    process.stdout.write(`${opts.config}: OK\n`);
  });

program
  .command('schema')
  .description("print the config's JSON Schema")
  .action(() => {
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
      pw = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
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

program.parseAsync(process.argv).catch((e: Error) => fail(e.message));
