// The listener's own TLS: certificate, key and client CA read from files, swapped into the running server when they change.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import type { Config } from '../config/schema.js';

export type ServerTlsConfig = NonNullable<Config['server']['tls']>;

interface Material {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

function read(c: ServerTlsConfig): Material {
  return {
    cert: readFileSync(c.certFile),
    key: readFileSync(c.keyFile),
    ...(c.clientCaFile ? { ca: readFileSync(c.clientCaFile) } : {}),
  };
}

/** Throws, saying what is wrong, unless the pair works: PEM that parses, a key that belongs to the certificate, a CA file with certificates. */
function validate(m: Material): void {
  new X509Certificate(m.cert);
  if (m.ca) {
    const pems = m.ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (pems.length === 0) throw new Error('clientCaFile holds no PEM certificate');
    for (const p of pems) new X509Certificate(p);
  }
  // createSecureContext refuses a key that does not belong to the certificate ("key values mismatch").
  createSecureContext(contextOptions(m));
}

function contextOptions(m: Material): SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) };
}

export interface ServerTls {
  /** Options for https.createServer / http2.createSecureServer. */
  readonly options: TlsOptions;
  /** The same certificate without client certificates (the metrics port). */
  readonly plainOptions: TlsOptions;
  /** Re-read the files now; true when the current pair is in use (new or unchanged). */
  reload(): boolean;
  close(): void;
}

export interface ServerTlsDeps {
  /** Swaps the context into every listener using it (tls.Server#setSecureContext). */
  apply(options: SecureContextOptions, withClientCa: SecureContextOptions): void;
  /** After a re-read that found a change: ok, or refused with the reason (the previous pair keeps serving). */
  onReload(ok: boolean, reason?: string): void;
  debounceMs?: number;
}

/**
 * Reads the files once (a start-up problem throws: the config check has already named it), then watches their
 * directories (a Kubernetes Secret volume swaps a `..data` symlink, which ends a watch on the file itself). A
 * change builds a new secure context for new handshakes; connections already open keep theirs.
 */
export function createServerTls(c: ServerTlsConfig, deps: ServerTlsDeps): ServerTls {
  let material = read(c);
  validate(material);
  const withoutCa = (m: Material): SecureContextOptions => ({ cert: m.cert, key: m.key });
  const base: TlsOptions = {
    minVersion: c.minVersion,
    // Only clients presenting a certificate of clientCaFile complete a handshake that asked for one.
    ...(c.clientCaFile ? { requestCert: true, rejectUnauthorized: c.clientAuth === 'require' } : {}),
  };
  let problem: string | undefined;
  const same = (a: Material, b: Material) =>
    a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : !!b.ca?.equals(a.ca));

  const reload = (): boolean => {
    let next: Material;
    try {
      next = read(c);
      if (same(next, material)) {
        if (problem !== undefined) {
          problem = undefined;
          deps.onReload(true);
        }
        return true;
      }
      validate(next);
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (problem !== reason) {
        problem = reason;
        deps.onReload(false, reason);
      }
      return false;
    }
    material = next;
    problem = undefined;
    deps.apply(withoutCa(material), contextOptions(material));
    deps.onReload(true);
    return true;
  };

  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const dirs = new Set([c.certFile, c.keyFile, c.clientCaFile].filter((f) => f !== undefined).map((f) => dirname(f)));
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
      // No watch support: SIGHUP re-reads them (reload()).
    }
  }
  return {
    options: { ...base, ...contextOptions(material) },
    plainOptions: { minVersion: c.minVersion, ...withoutCa(material) },
    reload,
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
