// Tracks whether each upstream answers, checked on a timer so /-/ready never probes per call.
import type { CompiledRoute } from '../routes/table.js';
import type { GatewayMetrics } from '../observability/metrics.js';

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
