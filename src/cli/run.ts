// `promgate run`: load the config, start the gateway (or N workers), and wire SIGTERM/SIGINT (drain) and SIGHUP (reload).
import cluster from 'node:cluster';
import { loadConfigInChild } from './config-process.js';
import type { Config } from '../config/schema.js';
import { createLogger, flushLogger, type Logger } from '../observability/logger.js';
import { startGateway } from '../server/server.js';
import { watchConfigFile } from '../config/watch.js';

export interface RunOptions {
  file?: string;
  overrides: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
}

export async function runCommand(opts: RunOptions): Promise<void> {
  // Overrides are merged into a fresh copy each time, so a SIGHUP reload sees the same flags again. The config is
  // loaded in a child process, so zod and the schema never enter this one (cli/config-process.ts).
  const load = () => loadConfigInChild({ file: opts.file, env: opts.env, overrides: structuredClone(opts.overrides) });
  // A refused config throws ConfigError (code PG_CONFIG_INVALID), which main prints as every problem it lists.
  const first: Config = await load();
  const logger = createLogger(first.server.logLevel);
  if (first.server.workers > 1 && cluster.isPrimary)
    return supervise(first.server.workers, first.server.shutdownTimeout, logger);
  let calls = 0;
  const gw = await startGateway({ logger, load: () => (calls++ === 0 ? first : load()) }).catch((e: Error) => {
    flushLogger(logger);
    throw e;
  });
  // The policy lives in the config file: a saved change reloads it like SIGHUP; a refused one keeps the old config.
  const watcher = opts.file ? watchConfigFile(opts.file, () => void gw.reload()) : undefined;
  const interval = first.server.reloadInterval;
  if (watcher && interval > 0) setInterval(() => watcher.poll(), interval).unref();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    watcher?.close();
    logger.info({ signal }, 'signal received');
    gw.shutdown()
      .then(() => exit(logger, 0))
      .catch((e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        exit(logger, 1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading configuration');
    void gw.reload();
  });
  // A worker told to stop by the primary gets a message, not a signal.
  process.on('message', (m) => {
    if (m === 'promgate:shutdown') stop('primary');
    else if (m === 'promgate:reload') void gw.reload();
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    exit(logger, 70);
  });
}

function exit(logger: Logger, code: number): void {
  flushLogger(logger);
  process.exit(code);
}

/** The primary of `--workers N`: forks workers that share the listening socket, relays reload and drain, restarts crashed workers. */
function supervise(n: number, drainMs: number, logger: Logger): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < n; i++) fork();
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) exit(logger, 0);
      return;
    }
    logger.error({ worker: w.process.pid, code, signal }, 'worker exited; starting a new one');
    setTimeout(fork, 500);
  });
  const each = (msg: string) => Object.values(cluster.workers ?? {}).forEach((w) => w?.send(msg));
  const stop = () => {
    if (stopping) return;
    stopping = true;
    each('promgate:shutdown');
    setTimeout(() => exit(logger, 1), drainMs + 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => each('promgate:reload'));
  logger.info({ workers: n }, 'promgate primary started');
}
