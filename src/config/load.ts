// Builds the frozen Config from a YAML file, PROMGATE_* environment variables and flag overrides, in that order.
import { readFileSync } from 'node:fs';
import { parse as parseYamlValue } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { ConfigError, closest, formatPath, type ConfigIssue } from './errors.js';
import { keysAt } from './introspect.js';
import { parseYamlSource, type YamlSource } from './yaml-source.js';
import { resolveSecretFiles } from './secrets.js';
import { prefixProblems, validateSemantics } from './semantics.js';
import { deepFreeze, deepMerge } from './merge.js';

export interface LoadOptions {
  /** Path of the YAML file; optional when flags describe everything. */
  file?: string;
  /** Environment (PROMGATE_* keys are read from it). */
  env?: NodeJS.ProcessEnv;
  /** Already-structured overrides from command-line flags; they win over file and env. */
  overrides?: Record<string, unknown>;
  /**
   * Checks that need more than the config (reading the users file, compiling templates with the code that
   * uses them), run after the schema and semantics pass; their problems get file, line and key path like the
   * rest. `promgate check` and `promgate run` pass the same one (wiring/preflight.ts), so they refuse alike.
   */
  check?: (cfg: Config) => ConfigIssue[];
}

export const ENV_PREFIX = 'PROMGATE_';
/** Env keys that are not config paths. */
const ENV_RESERVED = new Set(['PROMGATE_CONFIG', 'PROMGATE_LOG_PRETTY']);
const TOP_LEVEL = new Set(Object.keys(configSchema.shape));

export function loadConfig(opts: LoadOptions): Config {
  let source: YamlSource | undefined;
  let raw: Record<string, unknown> = {};
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError([
        `${opts.file}: cannot read config file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      ]);
    }
    const parsed = parseYamlSource(text, opts.file);
    if (!parsed.source) throw new ConfigError(parsed.problems);
    source = parsed.source;
    if (source.value === null || typeof source.value !== 'object' || Array.isArray(source.value)) {
      throw new ConfigError([`${opts.file}: the top level must be a mapping (server:, routes:, auth:, tenants:)`]);
    }
    raw = source.value as Record<string, unknown>;
  }
  const envKeys = applyEnv(raw, opts.env ?? {});
  if (opts.overrides) deepMerge(raw, opts.overrides);

  const problems: string[] = [];
  const keys: string[] = [];
  const add = (p: ConfigIssue) => {
    problems.push(locate(p.path, source, envKeys) + p.message);
    keys.push(formatPath(p.path));
  };
  const secretProblems = resolveSecretFiles(raw);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(describeIssue(issue, source, envKeys));
      if (issue.code === 'unrecognized_keys') for (const k of issue.keys) keys.push(formatPath([...issue.path, k]));
      else keys.push(formatPath(issue.path));
    }
  }
  secretProblems.forEach(add);
  // Cross-route problems are found on the raw routes too when the schema refused something else.
  const rawRoutes = (raw as { routes?: unknown } | null)?.routes;
  if (!result.success && Array.isArray(rawRoutes)) prefixProblems(rawRoutes).forEach(add);
  if (result.success) validateSemantics(result.data, opts.env ?? {}).forEach(add);
  if (result.success && opts.check) opts.check(result.data).forEach(add);
  if (problems.length > 0) throw new ConfigError(problems, keys);
  return deepFreeze(result.data!);
}

type Issue = { code: string; path: PropertyKey[]; message: string; keys?: string[] };

function describeIssue(issue: Issue, source: YamlSource | undefined, envKeys: Map<string, string>): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const allowed = keysAt(configSchema, issue.path);
    return issue.keys
      .map((k) => {
        const hint = closest(k, allowed);
        // In a union (upstream.auth) the key may belong to another variant: then suggesting it back would only confuse.
        const why = hint === k ? ' (not valid with this type)' : hint ? ` (did you mean "${hint}"?)` : '';
        return `${locate([...issue.path, k], source, envKeys)}unknown key "${k}"${why}`;
      })
      .join('\n  ');
  }
  return locate(issue.path, source, envKeys) + issue.message;
}

/** `file.yaml:12: routes[0].upstream.url: ` or `env PROMGATE_X: …` */
function locate(path: readonly PropertyKey[], source: YamlSource | undefined, envKeys: Map<string, string>): string {
  const key = formatPath(path);
  for (const [p, envName] of envKeys)
    if (key === p || key.startsWith(p + '.') || key.startsWith(p + '[')) return `env ${envName}: ${key}: `;
  if (!source) return `${key}: `;
  const line = source.lineOf(path);
  return `${source.file}${line ? `:${line}` : ''}: ${key}: `;
}

function camel(seg: string): string {
  return seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** PROMGATE_SERVER__METRICS_PORT=9100 → server.metricsPort = 9100; `__` separates levels. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const seen = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || value === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    const path = rest.split('__').map((s) => (/^\d+$/.test(s) ? Number(s) : camel(s)));
    // PROMGATE_SERVER__PORT and PROMGATE_AUTH are config; a variable without `__` whose name is not a
    // top-level section (PROMGATE_E2E_BIN, a tool's own setting) is not ours to refuse.
    if (!rest.includes('__') && !TOP_LEVEL.has(String(path[0]))) continue;
    let v: unknown;
    try {
      v = parseYamlValue(value);
    } catch {
      v = value;
    }
    setPath(raw, path, v);
    seen.set(formatPath(path), name);
  }
  return seen;
}

function setPath(obj: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    if (cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[seg] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}
