// The demo's multi-tenant data: a tiny Prometheus exposition server whose counters grow on every scrape.
import { createServer } from 'node:http';

export const DEMO_TENANTS = ['team-a', 'team-b', 'team-c'] as const;

/** The exposition text at scrape n: requests per tenant, pod and code, plus one shared node metric. */
export function demoExposition(n: number): string {
  const lines = [
    '# HELP http_requests_total Requests by tenant namespace, pod and status code.',
    '# TYPE http_requests_total counter',
  ];
  DEMO_TENANTS.forEach((ns, k) => {
    for (const pod of [0, 1]) {
      lines.push(
        `http_requests_total{namespace="${ns}",pod="${ns}-web-${pod}",code="200"} ${(k + 1) * 10 * (pod + 1) * (100 + n)}`,
      );
      lines.push(
        `http_requests_total{namespace="${ns}",pod="${ns}-web-${pod}",code="500"} ${(k + 1) * (pod + 1) * (100 + n)}`,
      );
    }
  });
  lines.push(
    '# HELP node_cpu_seconds_total Shared node CPU: it belongs to no tenant.',
    '# TYPE node_cpu_seconds_total counter',
  );
  for (const mode of ['idle', 'user'])
    lines.push(`node_cpu_seconds_total{cpu="0",mode="${mode}"} ${(mode === 'idle' ? 8 : 2) * (1000 + n)}`);
  return lines.join('\n') + '\n';
}

export interface DemoExposition {
  /** host:port, as a Prometheus static target. */
  readonly target: string;
  close(): Promise<void>;
}

export function startDemoExposition(): Promise<DemoExposition> {
  let n = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const body = demoExposition(n++);
    res.writeHead(200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  server.keepAliveTimeout = 2000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      resolve({
        target: `127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
