// The process logger: pino JSON on stdout, written asynchronously so logging stays off the request's critical path.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, opts: { sync?: boolean } = {}): Logger {
  // Async destination: lines written while a write is in flight are coalesced into the next one, so a busy
  // gateway makes few syscalls and a quiet one still shows each line at once. Flushed on shutdown.
  const dest = pino.destination({ dest: 1, sync: opts.sync ?? false });
  return pino(
    {
      level,
      base: { svc: 'promgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['password', '*.password', 'authorization', '*.authorization', 'cookie', '*.cookie', 'token', '*.token'], censor: '[redacted]' },
    },
    dest,
  );
}

/** Flush buffered log lines (before exit). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // a closed stdout must not turn a clean shutdown into a crash
  }
}
