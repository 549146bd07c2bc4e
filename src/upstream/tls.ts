// Upstream TLS material (CA, mTLS certificate and key) re-read when the files change, swapped for new connections only.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { buildConnector } from 'undici';

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecureSkipVerify: boolean;
}

interface Material {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface TlsSourceDeps {
  /** Called after every re-read that found a change: ok, or refused with the reason (the old material stays). */
  onReload?(ok: boolean, reason?: string): void;
  debounceMs?: number;
}

export interface TlsSource {
  /** The undici connector: each new connection uses the material current at that moment. */
  readonly connect: buildConnector.connector;
  /** Re-read now (also done on file events); resolves true when the material is current or unchanged. */
  reload(): boolean;
  status(): { ok: boolean; detail: string };
  close(): void;
}

function read(f: TlsFiles): Material {
  return {
    ...(f.caFile ? { ca: readFileSync(f.caFile) } : {}),
    ...(f.certFile ? { cert: readFileSync(f.certFile) } : {}),
    ...(f.keyFile ? { key: readFileSync(f.keyFile) } : {}),
  };
}

/** Throws, saying what is wrong, unless the material would work: PEM that parses, and a key that belongs to the certificate. */
function validate(m: Material): void {
  if (m.ca) {
    const pems = m.ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (pems.length === 0) throw new Error('caFile holds no PEM certificate');
    for (const p of pems) new X509Certificate(p);
  }
  if (m.cert) new X509Certificate(m.cert);
  // createSecureContext refuses a key that does not match the certificate ("key values mismatch").
  createSecureContext({
    ...(m.ca ? { ca: m.ca } : {}),
    ...(m.cert ? { cert: m.cert } : {}),
    ...(m.key ? { key: m.key } : {}),
  });
}

function same(a: Material, b: Material): boolean {
  const eq = (x?: Buffer, y?: Buffer) => (x === undefined ? y === undefined : y !== undefined && x.equals(y));
  return eq(a.ca, b.ca) && eq(a.cert, b.cert) && eq(a.key, b.key);
}

/** Why these TLS files would refuse to load (unreadable, not PEM, key not of the certificate), or undefined when they work. */
export function tlsFilesProblem(files: TlsFiles): string | undefined {
  try {
    validate(read(files));
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/** Reads the files once (start-up errors are thrown: the config check has already named unreadable ones), then keeps them fresh. */
export function createTlsSource(files: TlsFiles, timeoutMs: number, deps: TlsSourceDeps = {}): TlsSource {
  let material = read(files);
  validate(material);
  const build = (m: Material) =>
    buildConnector({ timeout: timeoutMs, rejectUnauthorized: !files.insecureSkipVerify, ...m });
  let connector = build(material);
  let problem: string | undefined;

  const reload = (): boolean => {
    let next: Material;
    try {
      next = read(files);
      if (same(next, material)) {
        // Unchanged (a noisy directory event, or a fixed file back to the current content).
        if (problem !== undefined) {
          problem = undefined;
          deps.onReload?.(true);
        }
        return true;
      }
      validate(next);
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (problem !== reason) {
        problem = reason;
        deps.onReload?.(false, reason);
      }
      return false;
    }
    material = next;
    // Connections already open keep their handshake (and their requests); new ones use the new material.
    connector = build(material);
    problem = undefined;
    deps.onReload?.(true);
    return true;
  };

  // Kubernetes Secret volumes swap a `..data` symlink, which ends a watch on the file itself: watch the directories.
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const dirs = new Set(
    [files.caFile, files.certFile, files.keyFile].filter((f): f is string => f !== undefined).map((f) => dirname(f)),
  );
  for (const dir of dirs) {
    try {
      const w = watch(dir, { persistent: false }, () => {
        clearTimeout(timer);
        timer = setTimeout(reload, deps.debounceMs ?? 200);
        timer.unref();
      });
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // No watch support: SIGHUP (a config reload builds a fresh pool only when settings change) and reload() remain.
    }
  }

  return {
    connect: (opts, cb) => connector(opts, cb),
    reload,
    status: () =>
      problem === undefined
        ? { ok: true, detail: 'current' }
        : { ok: false, detail: `new files refused, still using the previous ones: ${problem}` },
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
