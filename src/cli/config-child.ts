// The child process of cli/config-process.ts: loads and checks one config, sends back the result, exits.
import { ConfigError } from '../config/errors.js';
import { loadCheckedConfig } from '../wiring/load.js';
import type { ChildLoadOptions, ConfigReply } from './config-process.js';

process.once('message', (opts: ChildLoadOptions) => {
  let reply: ConfigReply;
  try {
    reply = { config: loadCheckedConfig(opts) };
  } catch (e) {
    reply =
      e instanceof ConfigError
        ? { problems: [...e.problems], keys: [...e.keys] }
        : { message: e instanceof Error ? e.message : String(e) };
  }
  process.send!(reply, () => process.exit(0));
});
