// The process logger: pino JSON on stdout, written in batches so logging stays cheap and off the request's critical path.
import pino, { type Logger } from 'pino';

export type { Logger };

/** Under load, lines are written at most this often; a line logged after a quiet spell is written at once. */
const FLUSH_INTERVAL_MS = 20;

/**
 * Lines are collected and written with one synchronous write(2): at the end of the event-loop turn
 * (setImmediate) when nothing was written in the last FLUSH_INTERVAL_MS, otherwise when that interval is
 * over, or as soon as 64 KiB are pending. Measured on a 2-core VM, an asynchronous fs.write costs ~70 µs of
 * thread-pool handoff per call, and every write to a pipe wakes its reader; batching makes the per-request
 * cost of the access log a few µs while a quiet gateway still shows each line at once. A consumer that stops
 * reading stdout stalls the process once the pipe is full, as with any synchronous logger (Go's log, nginx),
 * instead of letting memory grow without bound.
 */
export function createBatchedDestination(fd: number): {
  write(line: string): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
} {
  const sonic = pino.destination({ dest: fd, sync: true });
  let pending: string[] = [];
  let bytes = 0;
  let scheduled = false;
  let last = 0;
  const drain = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    bytes = 0;
    last = performance.now();
    sonic.write(text); // sync mode: written (or retried on EAGAIN) before this returns
  };
  // However the process ends (process.exit, a natural end with a timer still pending), pending lines go out.
  process.once('exit', drain);
  return {
    write(line) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= 64 * 1024) drain();
      else if (!scheduled) {
        scheduled = true;
        const wait = last + FLUSH_INTERVAL_MS - performance.now();
        if (wait <= 0) setImmediate(drain);
        else setTimeout(drain, wait).unref();
      }
      return true;
    },
    flush(cb) {
      drain();
      cb?.();
    },
    flushSync: drain,
  };
}

/**
 * An info line byte-for-byte as `logger.info(fields, msg)` writes it, at a fraction of the cost: the access
 * log's keys never name a secret, so pino's redaction (wildcard paths, ~10 µs a line) has nothing to do, and
 * the timestamp is formatted once per millisecond. Built once per logger.
 */
interface Fast {
  info(members: string, msg: string): void;
}
const fast = new WeakMap<Logger, Fast>();

export function createLogger(level: string, opts: { sync?: boolean } = {}): Logger {
  const dest = opts.sync ? pino.destination({ dest: 1, sync: true }) : createBatchedDestination(1);
  const logger = pino(
    {
      level,
      base: { svc: 'promgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        // Defence in depth: no code logs these, and test/security/secret-leak*.test.ts greps the output for them.
        paths: [
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'cookie',
          '*.cookie',
          '*["set-cookie"]',
          'token',
          '*.token',
          'secret',
          '*.secret',
          'clientSecret',
          '*.clientSecret',
          'secretAccessKey',
          '*.secretAccessKey',
          'sessionToken',
          '*.sessionToken',
          'accessToken',
          '*.accessToken',
          'idToken',
          '*.idToken',
          'refreshToken',
          '*.refreshToken',
        ],
        censor: '[redacted]',
      },
    },
    dest,
  );
  // `{"level":"info","time":"<iso>","svc":"promgate",<members>,"msg":…}`: pino's order, with the logger's bindings.
  fast.set(logger, {
    info: (members, msg) =>
      void dest.write(
        `{"level":"info","time":"${isoNow()}","svc":"promgate",${members}${members === '' ? '' : ','}"msg":${JSON.stringify(msg)}}\n`,
      ),
  });
  return logger;
}

/** A finished info line (with newline) in the format of createLogger's, for a destination of its own (the audit file). */
export function infoLine(members: string, msg: string): string {
  return `{"level":"info","time":"${isoNow()}","svc":"promgate",${members}${members === '' ? '' : ','}"msg":${JSON.stringify(msg)}}\n`;
}

let lastMs = -1;
let lastIso = '';

function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/**
 * For the hottest line (the access log): a writer taking the fields already serialized as JSON members
 * (`"a":1,"b":"x"`, keys in the order pino would write them); undefined when the logger is not one of
 * createLogger's (the caller then uses logger.info), and a no-op writer when info is disabled.
 */
export function infoWriter(logger: Logger): ((members: string, msg: string) => void) | undefined {
  const f = fast.get(logger);
  if (!f) return undefined;
  return logger.isLevelEnabled('info') ? f.info : noop;
}

const noop = (): void => {};

/** Flush buffered log lines (before exit). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // a closed stdout must not turn a clean shutdown into a crash
  }
}
