// A controllable HTTP upstream for failure-mode tests (slow answers, resets, echoing what it received).
// Real Prometheus covers the data path; this covers what Prometheus cannot be made to do on demand.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Stub {
  url: string;
  port: number;
  received: Received[];
  /** promgate's own build-info probes (readiness, on its own timer), kept apart so `received` is only what clients sent. */
  probes: Received[];
  /** Requests whose connection closed before the stub finished answering. */
  aborted: number;
  close(): Promise<void>;
}

export type StubHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** `port` 0 (the default) lets the kernel choose; a given port lets a test bring an upstream up where promgate already points. */
export async function startStub(handler: StubHandler, listenPort = 0): Promise<Stub> {
  const received: Received[] = [];
  const probes: Received[] = [];
  const stub = { aborted: 0 } as Stub;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      // promgate's readiness and build-info probes come on its own timer, at any moment of a test: readiness
      // probes are not recorded, build-info probes go to `probes`.
      const url = req.url ?? '';
      const seen = { method: req.method ?? '', url, headers: req.headers, body };
      if (url.endsWith('/api/v1/status/buildinfo')) probes.push(seen);
      else if (!url.endsWith('/-/ready')) received.push(seen);
      res.on('close', () => {
        if (!res.writableFinished) stub.aborted++;
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(listenPort, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    probes,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
  return stub;
}

/** Answers like Prometheus: a success envelope echoing what arrived. */
export const echoJson: StubHandler = (req, res, body) => {
  const text = JSON.stringify({
    status: 'success',
    data: { url: req.url, method: req.method, headers: req.headers, body },
  });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(text);
};
