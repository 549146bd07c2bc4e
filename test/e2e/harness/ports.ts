// Free-port allocation for e2e fixtures, plus a retry for the rare race where another process grabs the port.
import { createServer, connect } from 'node:net';

/** Ports this process has handed out: a test may hold one unbound (an upstream it starts later), so never twice. */
const handedOut = new Set<number>();

/** Binds 127.0.0.1:0, reads the port the kernel chose, and releases it for the caller to use. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: server has no TCP address'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * A free port on 127.0.0.1 that this process has not handed out before. The kernel may give a just-released
 * port again, and a test that keeps a port unbound on purpose (an upstream that comes up later) would then
 * share it with the next process it starts.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await kernelPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the kernel kept returning ports already handed out');
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function isPortOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (open: boolean): void => {
      sock.destroy();
      resolve(open);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** An error message that means "somebody else took the port between freePort() and bind()". */
export function isPortClash(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /address already in use|EADDRINUSE/i.test(msg);
}

/**
 * Runs `start` with a fresh free port, retrying with a new port when the start fails because the
 * port was taken in the meantime. Any other failure is rethrown at once.
 */
export async function withFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      last = err;
      if (!isPortClash(err)) throw err;
    }
  }
  throw last;
}

/** A port held by a placeholder listener until `release()`, so no other process can take it meanwhile. */
export interface ReservedPort {
  port: number;
  /** Frees the port; call it right before binding it for real. */
  release(): Promise<void>;
}

/**
 * Reserves a free port for a server that must be known before it starts (an OpenID provider's registered
 * redirect URI), keeping it bound until the real server is about to listen on it.
 */
export async function reservePort(): Promise<ReservedPort> {
  const srv = createServer();
  srv.unref();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = srv.address();
  if (addr === null || typeof addr === 'string') throw new Error('reservePort: server has no TCP address');
  handedOut.add(addr.port);
  return { port: addr.port, release: () => new Promise<void>((r) => srv.close(() => r())) };
}
