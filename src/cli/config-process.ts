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

/** Loads and checks the config in a child process; throws ConfigError exactly as loadCheckedConfig does. */
export async function loadConfigInChild(opts: ChildLoadOptions): Promise<Config> {
  const reply = await ask(opts).catch(() => undefined);
  if (reply === undefined) {
    // No child could run (no process slots, a sandbox without fork): load here, at the cost of the memory above.
    const { loadCheckedConfig } = await import('../wiring/load.js');
    return loadCheckedConfig(opts);
  }
  if ('config' in reply) return deepFreeze(reply.config);
  if ('problems' in reply) throw new ConfigError(reply.problems, reply.keys);
  throw new Error(`loading the config failed: ${reply.message}`);
}

function ask(opts: ChildLoadOptions): Promise<ConfigReply> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
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
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (reply === undefined) reject(new Error(`the config process exited (${signal ?? code}) without an answer`));
    });
    child.send(opts);
  });
}
