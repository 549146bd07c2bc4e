// Shared by the reliability tests: raw HTTP over a socket, a strict parse of what came back, and process memory.
import { connect } from 'node:net';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** Everything the server sent on one connection for `raw` (which should ask for `Connection: close`), until it closed the connection. */
export function rawExchange(port: number, raw: string | Buffer): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') resolve({ bytes: Buffer.concat(chunks), closed: true });
      else reject(e);
    });
    s.on('close', () => resolve({ bytes: Buffer.concat(chunks), closed: true }));
    s.write(raw);
  });
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body ended cleanly (chunked terminator or full Content-Length); false: the connection broke first. */
  complete: boolean;
}

/** One request with node:http's client (llhttp, a strict parser): an answer that is not valid HTTP rejects. */
export function strictRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (complete: boolean) =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          complete,
        });
      res.on('end', () => done(res.complete));
      res.on('error', () => done(false));
      res.on('aborted', () => done(false));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Resident set size of a process in bytes, from /proc. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Open file descriptors of a process, and how many of them are sockets. */
export function fdsOf(pid: number): { fds: number; sockets: number } {
  let fds = 0;
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed while listing
    }
  }
  return { fds, sockets };
}

export const MiB = 1024 * 1024;
