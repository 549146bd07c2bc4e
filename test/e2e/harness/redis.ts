// Starts a throwaway redis-server on a free port (no persistence) for session-store tests, and stops it.
import { connect } from 'node:net';
import { makeTempDir } from './cleanup.js';
import { withFreePort } from './ports.js';
import { spawnProc, type Proc } from './procs.js';
import { waitFor } from '../../helpers/wait.js';

export const REDIS_BIN = process.env.E2E_REDIS_BIN ?? '/usr/bin/redis-server';

export interface RedisInstance {
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  /** Sends one inline command (e.g. 'DBSIZE') and returns the raw RESP reply line. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

/** One inline command over a fresh connection; enough for PING and DBSIZE without a client library. */
function inline(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    sock.setTimeout(2000, () => sock.destroy(new Error('redis: timeout')));
    sock.once('connect', () => sock.write(`${line}\r\n`));
    sock.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      if (buf.includes('\r\n')) {
        sock.end();
        resolve(buf.slice(0, buf.indexOf('\r\n')));
      }
    });
    sock.once('error', reject);
  });
}

/** `port`: start on this port (a restart where clients already point); default: a free one. */
export async function startRedis(port?: number): Promise<RedisInstance> {
  // The working directory keeps redis from writing anywhere else, even though persistence is off.
  const dir = makeTempDir('redis');
  const onPort = port === undefined ? withFreePort : <T>(start: (p: number) => Promise<T>) => start(port);
  try {
    return await onPort(async (port) => {
      const proc = spawnProc(
        `redis:${port}`,
        REDIS_BIN,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir.path,
          '--protected-mode',
          'no',
        ],
        { cwd: dir.path },
      );
      try {
        await waitFor(async () => (await inline(port, 'PING')) === '+PONG', {
          what: `redis-server on ${port}`,
          timeoutMs: 10_000,
          intervalMs: 50,
          procs: [proc],
        });
      } catch (e) {
        await proc.stop('SIGKILL');
        // A port taken in the meantime shows up in redis's own log line.
        if (/Address already in use/i.test(proc.logs())) throw new Error(`EADDRINUSE: ${proc.logs()}`);
        throw e;
      }
      let stopped: Promise<void> | undefined;
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        proc,
        command: (line: string) => inline(port, line),
        stop: () => (stopped ??= proc.stop('SIGTERM', 3000).then(() => dir.remove())),
      };
    });
  } catch (e) {
    dir.remove();
    throw e;
  }
}
