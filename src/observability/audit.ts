// The audit file: one JSON line per decision, rotated by size through pino-roll (a pino transport), kept across reloads.
import type { Config } from '../config/schema.js';

export interface AuditFile {
  write(line: string): void;
  /** Writes what is pending and closes the file. */
  close(): Promise<void>;
}

/**
 * `file: /var/log/promgate/audit.log` writes `audit.1.log`, then `audit.2.log` once the first reaches maxSize, and
 * so on (the highest number is current; numbering continues after a restart); the oldest beyond maxFiles are
 * removed. Lines are written asynchronously by sonic-boom, which gathers the lines of a busy moment into one write.
 */
export async function openAuditFile(
  cfg: Config['server']['auditLog'],
  onError: (err: Error) => void,
): Promise<AuditFile | undefined> {
  if (!cfg.enabled || cfg.file === undefined) return undefined;
  // Loaded only when used: pino-roll pulls in all of date-fns (~0.5 s of start-up on a busy machine).
  const { default: pinoRoll } = await import('pino-roll');
  const stream = await pinoRoll({
    file: cfg.file,
    size: `${cfg.maxSize}b`,
    limit: { count: cfg.maxFiles, removeOtherLogFiles: true },
    mkdir: true,
  });
  // A full disk or a removed directory is reported, never a crash of the gateway.
  stream.on('error', onError);
  return {
    write: (line) => void stream.write(line),
    close: () =>
      new Promise<void>((resolve) => {
        if (stream.destroyed) return resolve();
        stream.once('close', () => resolve());
        stream.end();
      }),
  };
}
