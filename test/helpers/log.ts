// A pino logger that keeps its lines in memory, so tests can assert on warnings and access lines.
import pino, { type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** Lines are parsed as they are written; `level` picks what is kept (default debug); `echo` also prints them to stderr. */
export function captureLogger(level = 'debug', echo = false): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const write = (s: string): void => {
    lines.push(JSON.parse(s) as LogLine);
    if (echo) process.stderr.write(s);
  };
  const logger = pino({ level }, { write });
  return { logger, lines };
}
