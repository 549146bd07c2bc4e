// A file that is parsed into an immutable snapshot and re-read on change, on reload() and on a timer.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export type OnReload = (source: string, ok: boolean, reason?: string) => void;

/** What every authn/tenancy factory takes besides its config slice. */
export interface SourceDeps {
  logger: Logger;
  onReload?: OnReload;
  /** The clock for expiries, caches and cooldowns (default Date.now); tests pass one they move by hand. */
  now?: () => number;
}

export interface ReloadableFile<T> {
  readonly source: string;
  /** The last good snapshot. Callers read it once per request and keep using that object. */
  current(): T;
  /** Re-read now. An unchanged text is a no-op (the interval timer calls this often). Resolves true when the file was reloaded or is unchanged, false when it was refused. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface ReloadableFileOptions<T> {
  /** Name used in logs and onReload, e.g. `auth.basic.usersFile`. */
  source: string;
  path: string;
  /** Parse the text; throw an Error whose message names the file and line to refuse it. */
  parse: (text: string) => T;
  /** Called with each new snapshot before it is published; throwing refuses the snapshot. */
  commit?: (next: T) => void;
  deps: SourceDeps;
  /** Watch the directory (default true). */
  watch?: boolean;
  debounceMs?: number;
}

/**
 * Load synchronously (a bad file at start is a config error the caller lets surface), then keep the
 * snapshot fresh. We watch the directory rather than the file: editors and Kubernetes replace files
 * (a Secret volume swaps the `..data` symlink), which ends a watch on the file itself. Every event in
 * the directory schedules a debounced read, and an unchanged text is a no-op, so noise costs little.
 */
export function createReloadableFile<T>(opts: ReloadableFileOptions<T>): ReloadableFile<T> {
  const { source, path, deps } = opts;
  let lastText: string;
  try {
    lastText = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new FileConfigError([`${source}: cannot read ${path}: ${why}`]);
  }
  let snapshot = opts.parse(lastText);
  opts.commit?.(snapshot);

  let chain: Promise<boolean> = Promise.resolve(true);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let closed = false;

  async function readAndSwap(): Promise<boolean> {
    try {
      const text = await readFile(path, 'utf8');
      if (text === lastText) return true;
      const next = opts.parse(text);
      opts.commit?.(next);
      // Swap, never mutate: requests that already hold the old snapshot finish with it.
      snapshot = next;
      lastText = text;
      deps.logger.info({ source, path }, 'reloaded');
      deps.onReload?.(source, true);
      return true;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      deps.logger.error({ source, path, err }, 'reload failed; keeping the last good version');
      deps.onReload?.(source, false, reason);
      return false;
    }
  }

  // Serialise reads so that a slow read can never publish an older text after a newer one.
  const reload = (): Promise<boolean> => {
    chain = chain.then(() => (closed ? true : readAndSwap()));
    return chain;
  };

  if (opts.watch !== false) {
    const name = basename(path);
    const debounceMs = opts.debounceMs ?? 200;
    try {
      watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        // A null name happens on some platforms; `..data` is the Kubernetes Secret/ConfigMap swap.
        if (file !== null && file !== name && !String(file).startsWith('..')) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => void reload(), debounceMs);
        timer.unref();
      });
      watcher.on('error', (err) =>
        deps.logger.warn({ source, path, err }, 'file watch failed; relying on reload() and the reload interval'),
      );
    } catch (err) {
      deps.logger.warn({ source, path, err }, 'cannot watch the file; relying on reload() and the reload interval');
    }
  }

  return {
    source,
    current: () => snapshot,
    reload,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}

/** A file that failed to parse: every problem, each as `file:line: path: what is wrong`. */
export class FileConfigError extends Error {
  /** Stable code: a file the config names (users file, htpasswd, JWKS) is unreadable or malformed. */
  readonly code = 'PG_CONFIG_FILE';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'FileConfigError';
    this.problems = problems;
  }
}
