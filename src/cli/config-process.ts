// `promgate run` loads its config in a short-lived child process: validation needs zod, the schema and the YAML
// parser's position tracking (about 9 MB of heap and code that modules cannot give back once loaded), and the
// serving process needs only the validated config. The child runs the same loadCheckedConfig as `promgate
// check`, sends the config (plain data) or the refusal back over IPC and exits. Issue 16.1; docs/performance.md.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/errors.js';
import type { LoadOptions } from '../config/load.js';
import { deepFreeze } from '../config/merge.js';
import type { Config } from '../config/schema.js';

/** What the child sends back: the config, a refusal with every problem, or an unexpected failure. */
export type ConfigReply = { config: Config } | { problems: string[]; keys: string[] } | { message: string };
export type ChildLoadOptions = Omit<LoadOptions, 'check'>;

// Run from source (tests, tsx), this module is a .ts file and so is the child.
const CHILD = fileURLToPath(
  new URL(`./config-child.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

export interface ChildProcessOptions {
  /** The node binary the child runs (default process.execPath); tests point it at one that cannot start. */
  execPath?: string;
  /** Where the one-line notice goes when no child could run (default stderr: there is no logger before a config). */
  warn?: (line: string) => void;
}

/**
 * Loads and checks the config in a child process; throws ConfigError exactly as loadCheckedConfig does. When no
 * child can run (the binary cannot be executed again, no process slots, a sandbox without fork) it says so in one
 * line and loads in this process, at the memory cost above; the result is the same.
 */
export async function loadConfigInChild(opts: ChildLoadOptions, o: ChildProcessOptions = {}): Promise<Config> {
  let failure: Error | undefined;
  const reply = await ask(opts, o.execPath ?? process.execPath).catch((e: Error) => {
    failure = e;
    return undefined;
  });
  if (reply === undefined) {
    const warn = o.warn ?? ((line: string) => process.stderr.write(line + '\n'));
    warn(`promgate: the config child process could not run (${failure?.message}); checking the config in this process`);
    const { loadCheckedConfig } = await import('../wiring/load.js');
    return loadCheckedConfig(opts);
  }
  if ('config' in reply) return deepFreeze(reply.config);
  if ('problems' in reply) throw new ConfigError(reply.problems, reply.keys);
  throw new Error(`loading the config failed: ${reply.message}`);
}

function ask(opts: ChildLoadOptions, execPath: string): Promise<ConfigReply> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
      execPath,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // A debugger flag would make the child bind the parent's inspector port.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--inspect')),
    });
    let reply: ConfigReply | undefined;
    child.once('message', (m) => {
      reply = m as ConfigReply;
      resolve(reply);
    });
    // `on`, not `once`: a child that cannot be spawned emits the spawn error and then the failed send's EPIPE.
    child.on('error', reject);
    child.once('exit', (code, signal) => {
      if (reply === undefined) reject(new Error(`the config process exited (${signal ?? code}) without an answer`));
    });
    child.send(opts);
  });
}
