// Loading a config as `promgate check`, `promgate run`, a reload and the programmatic API do: the schema, the
// semantic checks and the preflight. It imports the zod schema; `promgate run` calls it in a short-lived child
// process (cli/config-process.ts) so the serving process never loads zod.
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { preflight } from './preflight.js';

/** loadConfig with the preflight: what `promgate check`, `promgate run`, a reload and the programmatic API use. */
export function loadCheckedConfig(opts: LoadOptions): Config {
  return loadConfig({ ...opts, check: preflight });
}
