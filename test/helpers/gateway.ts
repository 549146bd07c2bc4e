// The whole gateway in-process, from source: the real config loader and startGateway on port 0, with captured logs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/server/server.js';
import { captureLogger, type LogLine } from './log.js';

export interface InProcessOptions {
  /** The config as YAML text, loaded from a temp file (so problems name its lines) … */
  yaml?: string;
  /** … or as an object; either goes through loadConfig, env and all. */
  config?: Record<string, unknown>;
  /** PROMGATE_* variables the loader sees (default none: the test's own environment is not read). */
  env?: Record<string, string>;
  /** Level of the capturing logger (default info, which includes the access log); TEST_LOG_LEVEL=<level> overrides it and prints the lines. */
  logLevel?: string;
  /** A port chosen beforehand, when the URL must be known first (an IdP's redirect URI); default 0. */
  port?: number;
}

export interface InProcessGateway {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly gateway: Gateway;
  /** Every line logged so far, parsed; access lines have msg 'request'. */
  readonly logs: LogLine[];
  /** Replaces the config (same kind as given at start) when `next` is given, then reloads like SIGHUP; false when refused. */
  reload(next?: string | Record<string, unknown>): Promise<boolean>;
  /** Drains and stops the gateway, then removes the temp config file; safe to call twice. */
  close(): Promise<void>;
}

export async function startInProcess(o: InProcessOptions): Promise<InProcessGateway> {
  if ((o.yaml === undefined) === (o.config === undefined))
    throw new Error('startInProcess: give exactly one of yaml and config');
  // server.host and server.port are always 127.0.0.1 and (unless given) 0: the kernel picks a free port.
  const listen = { server: { host: '127.0.0.1', port: o.port ?? 0 } };
  const dir = mkdtempSync(join(tmpdir(), 'promgate-inproc-'));
  const file = join(dir, 'promgate.yaml');
  let current: string | Record<string, unknown> = o.yaml ?? o.config!;
  const load = (): Config => {
    if (typeof current === 'string') {
      writeFileSync(file, current);
      return loadConfig({ file, env: o.env ?? {}, overrides: structuredClone(listen) });
    }
    const server = { ...(current.server as Record<string, unknown> | undefined), ...listen.server };
    return loadConfig({ env: o.env ?? {}, overrides: { ...structuredClone(current), server } });
  };
  const shown = process.env.TEST_LOG_LEVEL;
  const { logger, lines } = captureLogger(shown ?? o.logLevel ?? 'info', shown !== undefined);
  let gateway: Gateway;
  try {
    gateway = await startGateway({ logger, load });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${gateway.port}`,
    port: gateway.port,
    gateway,
    logs: lines,
    reload(next) {
      if (next !== undefined) {
        if (typeof next !== typeof current) throw new Error('reload: give the config in the same form as at start');
        current = next;
      }
      return gateway.reload();
    },
    close: () => (closed ??= gateway.shutdown().finally(() => rmSync(dir, { recursive: true, force: true }))),
  };
}
