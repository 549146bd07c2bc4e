// Tracks whether each upstream answers, and which Prometheus version it runs, checked on a timer so /-/ready never probes per call.
import type { CompiledRoute } from '../routes/table.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { dotModeOfVersion } from '../routes/dot-mode.js';
import type { DotMode } from '../lib/re2.js';

const BUILDINFO_MAX_BYTES = 64 * 1024;

/** The dot mode the route's Prometheus reports through its build info; unknown on any failure. */
async function probeDotMode(r: CompiledRoute): Promise<DotMode> {
  try {
    const res = await r.upstream.pool.request({
      path: `${r.upstream.basePath}${r.cfg.apiPrefix}/api/v1/status/buildinfo`,
      method: 'GET',
      headers: { accept: 'application/json', 'accept-encoding': 'identity' },
      headersTimeout: 2000,
      bodyTimeout: 2000,
    });
    const len = Number(res.headers['content-length'] ?? 0);
    if (res.statusCode !== 200 || len > BUILDINFO_MAX_BYTES) {
      await res.body.dump();
      return 'unknown';
    }
    const text = await res.body.text();
    if (text.length > BUILDINFO_MAX_BYTES) return 'unknown';
    const body = JSON.parse(text) as { status?: unknown; data?: { version?: unknown } } | null;
    return body?.status === 'success' ? dotModeOfVersion(body.data?.version) : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface UpstreamState {
  route: string;
  url: string;
  up: boolean;
  detail: string;
}

export class Readiness {
  private states = new Map<string, UpstreamState>();
  private timer?: NodeJS.Timeout;
  private routes: readonly CompiledRoute[] = [];

  constructor(private readonly metrics: GatewayMetrics, private readonly intervalMs: number) {}

  track(routes: readonly CompiledRoute[]): Promise<void> {
    this.routes = routes;
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
    return this.check();
  }

  async check(): Promise<void> {
    const next = new Map<string, UpstreamState>();
    await Promise.all(
      this.routes.map(async (r) => {
        // The regex dot mode is re-read on every check: a backend upgraded from 2.x to 3.x (or back)
        // behind the same URL changes how its label regexes read "\n".
        const mode = r.dotMode.probes ? probeDotMode(r) : undefined;
        const url = r.cfg.upstream.url;
        let up = false;
        let detail: string;
        try {
          const res = await r.upstream.pool.request({
            path: r.upstream.basePath + r.cfg.upstream.readyPath,
            method: 'GET',
            headersTimeout: 2000,
            bodyTimeout: 2000,
          });
          await res.body.dump();
          // Any HTTP answer below 500 proves the upstream is reachable (an auth-protected backend answers 401/403).
          up = res.statusCode < 500;
          detail = `HTTP ${res.statusCode}`;
        } catch (e) {
          const err = e as { code?: string; message?: string };
          detail = err.code ?? err.message ?? 'unreachable';
        }
        if (mode) r.dotMode.observe(await mode);
        next.set(r.name, { route: r.name, url, up, detail });
        this.metrics.upstreamUp(r.name, up);
      }),
    );
    this.states = next;
  }

  snapshot(): UpstreamState[] {
    return [...this.states.values()];
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
