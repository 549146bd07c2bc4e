// Launches the built promgate CLI (dist/cli/main.js) as a real process and waits until it is healthy.
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from './cleanup.js';
import { httpStatus } from './http.js';
import { freePort } from './ports.js';
import { spawnProc, type ExitInfo, type Proc } from './procs.js';
import { waitFor } from '../../helpers/wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PROMGATE_ENTRY = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

/** True once `npm run build` has produced the CLI; suites can skip with a clear reason otherwise. */
export const promgateBuilt = (): boolean => existsSync(PROMGATE_ENTRY);

export interface PromgateOptions {
  /** Arguments after `run` (or after `command`). `{{PORT}}` and `{{NAME}}` of `vars` are substituted. */
  args?: string[];
  /** Written to a temp file (or configPath) that is passed as `--config <file>`; substituted like args. */
  configYaml?: string;
  /** Where to write configYaml, e.g. so a test can rewrite it and send SIGHUP; the caller owns this file. */
  configPath?: string;
  env?: Record<string, string>;
  /** The listening port. If omitted and `{{PORT}}` appears in args/config, a free port is picked. */
  port?: number;
  /** Extra `{{NAME}}` substitutions for args and configYaml. */
  vars?: Record<string, string>;
  /** Subcommand (default 'run'). */
  command?: string;
  /** Path of the CLI's JS entry (default dist/cli/main.js); the smoke test points it at a stand-in. */
  entry?: string;
  /** Health path polled until 200 (default '/-/healthy'). */
  healthPath?: string;
  /** Wait until healthy (default true). Set false to test start-up failures with waitExit(). */
  waitHealthy?: boolean;
  timeoutMs?: number;
}

/** Alias used by suites that think of the gateway as a process. */
export type PromgateProc = PromgateInstance;

export interface PromgateInstance {
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  /** The config file written from configYaml, if any. */
  readonly configFile?: string;
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
  logs(): string;
  /** stdout parsed as pino JSON lines (lines that are not JSON objects are skipped). */
  logLines(): Record<string, unknown>[];
  waitExit(): Promise<ExitInfo>;
}

const PORT_FLAG = /^--(?:listen|listen-address|http-address|web\.listen-address|port)(?:=(.*))?$/;

/** Finds the port in a listen flag (`--listen=127.0.0.1:8080`, `--port 8080`), if any. */
function portFromArgs(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const m = PORT_FLAG.exec(args[i] ?? '');
    if (!m) continue;
    const value = m[1] ?? args[i + 1] ?? '';
    const port = /(?:^|:)(\d+)$/.exec(value)?.[1];
    if (port) return Number(port);
  }
  return undefined;
}

function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (all, name: string) => vars[name] ?? all);
}

export function parseJsonLines(lines: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}

export async function startPromgate(o: PromgateOptions = {}): Promise<PromgateInstance> {
  const rawArgs = o.args ?? [];
  const wantsPort = [...rawArgs, o.configYaml ?? ''].some((s) => s.includes('{{PORT}}'));
  const waitHealthy = o.waitHealthy ?? true;
  const port = o.port ?? (wantsPort ? await freePort() : portFromArgs(rawArgs)) ?? (waitHealthy ? undefined : 0);
  if (port === undefined) {
    throw new Error('startPromgate: pass `port`, use {{PORT}} in args/configYaml, or a --listen flag in args');
  }
  const vars = { PORT: String(port), ...o.vars };
  const args = rawArgs.map((a) => substitute(a, vars));
  const dir = makeTempDir('promgate');
  let configFile: string | undefined;
  if (o.configYaml !== undefined) {
    configFile = o.configPath ?? dir.file('promgate.yaml');
    writeFileSync(configFile, substitute(o.configYaml, vars));
    args.push('--config', configFile);
  }
  const entry = o.entry ?? PROMGATE_ENTRY;
  const proc = spawnProc(`promgate:${port}`, process.execPath, [entry, o.command ?? 'run', ...args], {
    cwd: REPO_ROOT,
    env: o.env,
  });
  // The temp dir only holds the generated config; drop it however the process ends.
  void proc.waitExit().then(() => dir.remove());
  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<ExitInfo> | undefined;
  const inst: PromgateInstance = {
    url,
    port,
    proc,
    configFile,
    stop: (signal) => (stopped ??= proc.stop(signal).finally(() => dir.remove())),
    logs: () => proc.logs(),
    logLines: () => parseJsonLines(proc.stdoutLines()),
    waitExit: () => proc.waitExit(),
  };
  if (waitHealthy) {
    const healthUrl = `${url}${o.healthPath ?? '/-/healthy'}`;
    try {
      await waitFor(async () => (await httpStatus(healthUrl)) === 200, {
        what: `promgate ${healthUrl}`,
        timeoutMs: o.timeoutMs ?? 15_000,
        intervalMs: 50,
        procs: [proc],
      });
    } catch (err) {
      await inst.stop('SIGKILL');
      throw err;
    }
  }
  return inst;
}
