// A tiny Prometheus text-format (0.0.4) exposition server serving the multi-tenant data set of data.ts.
import { createServer, type Server } from 'node:http';
import { METRICS, samplesAt, type Sample } from './data.js';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface ExpositionOptions {
  /** Number of bench_series series to add (default 0). */
  benchSeries?: number;
  /** Samples served after the data set on every scrape, e.g. series whose label values a test chooses. */
  extraSamples?: readonly Sample[];
}

export interface ExpositionServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no path). */
  readonly url: string;
  readonly port: number;
  /** host:port, as a Prometheus static target. */
  readonly target: string;
  readonly benchSeries: number;
  /**
   * Times `path` has been served. Every path under /metrics counts on its own, so several
   * Prometheus servers (each with its own metrics_path) can share one exposition without
   * speeding up each other's counters.
   */
  scrapes(path?: string): number;
  /** The exposition text that the next scrape of `path` will return (without counting it). */
  peek(path?: string): string;
  stop(): Promise<void>;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function familyOf(sampleName: string): string {
  return sampleName.replace(/_(bucket|sum|count)$/, '');
}

/** Renders samples in the text format, with one HELP/TYPE header per family. */
export function renderExposition(samples: readonly Sample[]): string {
  const lines: string[] = [];
  let current = '';
  for (const s of samples) {
    const meta = METRICS.find((m) => m.name === s.name) ?? METRICS.find((m) => m.name === familyOf(s.name));
    const family = meta?.name ?? s.name;
    if (family !== current) {
      current = family;
      if (meta) lines.push(`# HELP ${meta.name} ${meta.help}`, `# TYPE ${meta.name} ${meta.type}`);
    }
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    lines.push(`${s.name}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
  }
  return lines.join('\n') + '\n';
}

export function startExposition(opts: ExpositionOptions = {}): Promise<ExpositionServer> {
  const benchSeries = opts.benchSeries ?? 0;
  const counts = new Map<string, number>();
  const extra = opts.extraSamples ?? [];
  const body = (path: string): string => renderExposition([...samplesAt(counts.get(path) ?? 0, benchSeries), ...extra]);

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' || !(path === '/metrics' || path.startsWith('/metrics/'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const text = body(path);
    counts.set(path, (counts.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  // Prometheus keeps scrape connections alive; close them promptly on stop().
  server.keepAliveTimeout = 2000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error('exposition server has no TCP address'));
        return;
      }
      const port = addr.port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        target: `127.0.0.1:${port}`,
        benchSeries,
        scrapes: (path = '/metrics') => counts.get(path) ?? 0,
        peek: (path = '/metrics') => body(path),
        stop: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
