// The programmatic API of the `promgate` package: start a gateway from a config object, load or validate a config, the error codes.
import type { LoadOptions } from './config/load.js';
import { loadCheckedConfig as loadFromSources } from './wiring/load.js';
import { ConfigError } from './config/errors.js';
import type { Config, ConfigInput } from './config/schema.js';
import { createLogger, flushLogger, type Logger } from './observability/logger.js';
import { startGateway as startServer } from './server/server.js';

export { ConfigError } from './config/errors.js';
export { CODES, GatewayError, isGatewayError, type ErrorCode, type ErrorType } from './errors.js';
export type { Config, ConfigInput, LoadOptions };

/** Reads a YAML file (optional), PROMGATE_* variables of `env` and `overrides`, in that order; throws ConfigError listing every problem. */
export function loadConfig(opts: LoadOptions): Config {
  return loadFromSources(opts);
}

/**
 * Checks a config object (what a YAML file would hold) and returns it with every default filled in, frozen.
 * Throws ConfigError, whose `problems` name each key path. Environment variables are not read.
 */
export function validateConfig(input: ConfigInput): Config {
  return loadFromSources({ overrides: structuredClone(input) as Record<string, unknown>, env: {} });
}

export interface StartOptions {
  /** The config as a YAML file would hold it; validated here. */
  config: ConfigInput;
  /** A pino logger; default: JSON lines on stdout at `server.logLevel`. */
  logger?: Logger;
}

export interface RunningGateway {
  /** http://host:port of the main listener (127.0.0.1 when listening on every address). */
  readonly url: string;
  readonly port: number;
  /** The separate /metrics port, when `server.metricsPort` is set. */
  readonly metricsPort?: number;
  /**
   * Swaps in a new config (or re-reads the current one's files: users file, JWKS file) without dropping
   * connections. A config with problems throws ConfigError and the running one keeps serving.
   * Host and port changes need a new gateway.
   */
  reload(next?: ConfigInput): Promise<void>;
  /** Stops accepting, drains in-flight requests up to `server.shutdownTimeout`, and closes everything. */
  close(): Promise<void>;
}

/** Starts a gateway in this process. Resolves once it listens; rejects with ConfigError for a bad config. */
export async function startGateway(opts: StartOptions): Promise<RunningGateway> {
  let input = opts.config;
  let current = validateConfig(input);
  const logger = opts.logger ?? createLogger(current.server.logLevel);
  const gw = await startServer({ logger, load: () => current });
  const host = current.server.host === '0.0.0.0' || current.server.host === '::' ? '127.0.0.1' : current.server.host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${gw.port}`,
    port: gw.port,
    metricsPort: gw.metricsPort,
    async reload(next) {
      const previous = current;
      current = validateConfig(next ?? input);
      if (!(await gw.reload())) {
        current = previous;
        throw new ConfigError([
          'the new configuration could not be built (a file it names is missing or invalid); see the log',
        ]);
      }
      input = next ?? input;
    },
    close: () =>
      (closed ??= gw.shutdown().finally(() => {
        if (!opts.logger) flushLogger(logger);
      })),
  };
}
