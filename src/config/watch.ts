// Watches the config file (and its directory, for Kubernetes ConfigMap symlink swaps) and reports real content changes.
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname } from 'node:path';

function digest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

export interface ConfigWatcher {
  /** Re-read now (reload interval); calls onChange only when the content differs from the last seen. */
  poll(): void;
  close(): void;
}

export function watchConfigFile(file: string, onChange: () => void, debounceMs = 200): ConfigWatcher {
  let last = digest(file);
  let timer: NodeJS.Timeout | undefined;
  // A file that disappears is a change too: the reload it triggers is refused and counted, so /-/ready and
  // promgate_config_last_reload_successful say the last good config is serving; its return reloads again.
  const poll = () => {
    const now = digest(file);
    if (now !== last) {
      last = now;
      onChange();
    }
  };
  const name = basename(file);
  let w: FSWatcher | undefined;
  try {
    w = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed && changed !== name && !String(changed).startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(poll, debounceMs);
    });
    w.on('error', () => w?.close());
  } catch {
    // No watch support (some network filesystems): SIGHUP and the reload interval still work.
  }
  return {
    poll,
    close() {
      clearTimeout(timer);
      w?.close();
    },
  };
}
