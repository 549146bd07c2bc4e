// Test helpers for authn and tenancy: JWKS servers, Basic headers, a short poll; the generic ones re-exported from test/helpers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from '../helpers/wait.js';

export { captureLogger, type LogLine } from '../helpers/log.js';
export { tempDir, writeFile } from '../helpers/files.js';
export { caught } from '../helpers/errors.js';

/** Polls cond every 20 ms until it holds; throws after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** Serves a mutable JSON body over real HTTP on 127.0.0.1 (port 0 unless given). */
export async function jsonServer(
  body: () => unknown,
  port = 0,
): Promise<{ url: string; server: Server; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    const text = JSON.stringify(body());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: p } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${p}/jwks.json`,
    server,
    hits: () => hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
