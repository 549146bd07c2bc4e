// Tracks whether each upstream answers, and which Prometheus version it runs, checked on a timer so /-/ready never probes per call.
import type { Dispatcher } from 'undici';
import type { RouteRuntime } from '../pipeline/runtime.js';
import type { CompiledRoute } from '../routes/table.js';
import type { UpstreamCall } from '../upstream/signers/index.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { dotModeOfVersion } from '../routes/dot-mode.js';
import type { DotMode } from '../lib/re2.js';
import { isTemplate } from '../lib/template.js';

const BUILDINFO_MAX_BYTES = 64 * 1024;

/** A route as readiness probes it: its upstream and, when it signs, its signer. */
type Probed = CompiledRoute & Partial<Pick<RouteRuntime, 'sign'>>;

/**
 * One probe of the route's upstream, signed like every other request (a managed Prometheus refuses unsigned
 * calls, and nothing unsigned should leave for an upstream that expects credentials). It goes to the raw
 * pool, so probing never moves a circuit breaker.
 */
async function probe(
  r: Probed,
  pathAndQuery: string,
  headers: Record<string, string>,
): Promise<Dispatcher.ResponseData> {
  const call: UpstreamCall = { method: 'GET', pathAndQuery, headers, body: null };
  const signing = r.sign?.(call);
  if (signing) await signing;
  return r.upstream.pool.request({
    path: r.upstream.basePath + call.pathAndQuery,
    method: 'GET',
    headers: call.headers,
    headersTimeout: 2000,
    bodyTimeout: 2000,
  });
}

/** The dot mode the route's Prometheus reports through its build info; unknown on any failure. */
async function probeDotMode(r: Probed): Promise<DotMode> {
  try {
    const res = await probe(r, `${r.cfg.apiPrefix}/api/v1/status/buildinfo`, {
      accept: 'application/json',
      'accept-encoding': 'identity',
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
  private routes: readonly Probed[] = [];

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly intervalMs: number,
  ) {}

  track(routes: readonly Probed[]): Promise<void> {
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
        if (isTemplate(r.cfg.upstream.url)) {
          // A templated upstream has no host until an identity fills it in: not probed, and not held against
          // readiness (its dot mode stays as configured, or unknown, which filters read the safe way).
          const detail = 'not probed: the upstream URL is a template, chosen per identity';
          next.set(r.name, { route: r.name, url: r.cfg.upstream.url, up: true, detail });
          return;
        }
        // The regex dot mode is re-read on every check: a backend upgraded from 2.x to 3.x (or back)
        // behind the same URL changes how its label regexes read "\n".
        const mode = r.dotMode.probes ? probeDotMode(r) : undefined;
        const url = r.cfg.upstream.url;
        let up = false;
        let detail: string;
        try {
          const res = await probe(r, r.cfg.upstream.readyPath, {});
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
