// ConfigError: every problem of a config, each with its file, line and key path.

/** One problem at one key path, before it is given a file and line. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

/** Stable code of every refused config, at load or when a runtime is built; tests assert on it and on `keys`. */
export const CONFIG_INVALID = 'PG_CONFIG_INVALID';

export class ConfigError extends Error {
  readonly code = CONFIG_INVALID;
  /** Each problem as printed: `file.yaml:12: routes[0].upstream.url: …`. */
  readonly problems: readonly string[];
  /** The key path of each problem that has one (`tenants.rules[0].labels.namespace`), in order. */
  readonly keys: readonly string[];
  /** The problems as path and message, when they were made without a file (see `of`). */
  readonly issues: readonly ConfigIssue[];
  constructor(problems: readonly string[], keys: readonly string[] = [], issues: readonly ConfigIssue[] = []) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.keys = keys;
    this.issues = issues;
  }

  /** A refusal found while building from a loaded config, where there is no file or line left to name. */
  static of(issues: readonly ConfigIssue[]): ConfigError {
    return new ConfigError(
      issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
      issues.map((i) => formatPath(i.path)),
      issues,
    );
  }

  static at(path: (string | number)[], message: string): ConfigError {
    return ConfigError.of([{ path, message }]);
  }
}

export const isConfigError = (e: unknown): e is ConfigError => e instanceof ConfigError;

/** `routes[1].upstream.url` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out || '(top level)';
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest known key, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
