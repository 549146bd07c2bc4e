// The gateway process: listener(s), config swap on reload, readiness, and graceful shutdown.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/errors.js';
import { GatewayError, rawErrorResponse, renderError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, type GatewayMetrics } from '../observability/metrics.js';
import { buildRuntime, type Runtime } from '../wiring/runtime.js';
import { loadFeatures } from '../wiring/features.js';
import { createPipeline } from '../pipeline/pipeline.js';
import { Readiness } from './readiness.js';
import { createOwnEndpoints, serveMetrics } from './own-endpoints.js';
import type { Upstream } from '../upstream/pool.js';
import { LimitsState } from '../limits/limits.js';
import { STATE_VALUE } from '../upstream/breaker.js';

export interface Gateway {
  readonly port: number;
  readonly metricsPort?: number;
  runtime(): Runtime;
  /** Re-read the config; false (and the old config keeps serving) when it is refused. */
  reload(): Promise<boolean>;
  /** Stop accepting, drain in-flight requests up to the deadline, close everything. */
  shutdown(): Promise<void>;
}

export interface GatewayOptions {
  logger: Logger;
  load: () => Config;
  metrics?: GatewayMetrics;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (e.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use`));
      else if (e.code === 'EACCES') reject(new Error(`no permission to listen on port ${port}`));
      else reject(new Error(`cannot listen on ${host}:${port}: ${e.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const ge =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new GatewayError('PG_HEADERS_TOO_LARGE', 'request line or headers too large')
      : new GatewayError('PG_BAD_REQUEST', 'malformed HTTP request');
  socket.end(rawErrorResponse(ge));
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { logger } = opts;
  let cfg = opts.load();
  // The tenant label names every tenant; it is on by default only where /metrics has a port of its own.
  const metrics =
    opts.metrics ??
    createMetrics({ tenantLabel: cfg.server.metricsTenantLabel ?? cfg.server.metricsPort !== undefined });
  const pools = new Map<string, Upstream>();
  let draining = false;
  const readiness = new Readiness(metrics, cfg.server.readyCheckInterval);
  const limits = new LimitsState();
  /** Circuit state of every upstream with a breaker, for /-/ready and /metrics. */
  const circuits = () => [...pools.values()].flatMap((u) => (u.breaker ? [[u.cfg.url, u.breaker] as const] : []));
  const protections = () => {
    const lines = limits.readyLines();
    let ok = true;
    for (const [url, b] of circuits()) {
      const st = b.state();
      if (st === 'open') ok = false;
      lines.push(`circuit ${url}: ${st}${st === 'open' ? ` (next probe in ${Math.ceil(b.retryIn() / 1000)}s)` : ''}`);
    }
    return { ok, lines };
  };
  const build = (c: Config): Runtime => {
    const rt = buildRuntime(c, { logger, metrics, pools, limits });
    rt.own = createOwnEndpoints(rt, { readiness, draining: () => draining, protections });
    return rt;
  };
  await loadFeatures(cfg);
  let rt = build(cfg);
  metrics.circuitsFrom(() => circuits().map(([url, b]) => [url, STATE_VALUE[b.state()]] as const));
  metrics.inflightFrom(() => rt.limits.inflight());
  let inflight = 0;
  const pipeline = createPipeline(
    () => rt,
    () => inflight--,
  );
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inflight++;
    if (draining) res.setHeader('connection', 'close');
    pipeline(req, res);
  };
  const s = cfg.server;
  const server = createServer(
    { maxHeaderSize: s.maxHeaderBytes, requestTimeout: s.requestTimeout, keepAliveTimeout: s.keepAliveTimeout },
    onRequest,
  );
  server.on('clientError', clientError);
  const port = await listen(server, s.host, s.port);
  let metricsServer: Server | undefined;
  let metricsPort: number | undefined;
  if (s.metricsPort !== undefined) {
    metricsServer = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] === rt.cfg.server.metricsPath) void serveMetrics(rt, res);
      else renderError(res, new GatewayError('PG_NOT_FOUND', 'only the metrics path is served on this port'), false);
    });
    try {
      metricsPort = await listen(metricsServer, s.host, s.metricsPort);
    } catch (e) {
      server.close();
      throw e;
    }
  }
  void readiness.track(rt.routes.all());
  let reloadTimer: NodeJS.Timeout | undefined;
  const scheduleFileReload = () => {
    clearInterval(reloadTimer);
    if (rt.cfg.server.reloadInterval > 0) {
      reloadTimer = setInterval(
        () => void Promise.allSettled(rt.authenticators.map((a) => a.reload?.())),
        rt.cfg.server.reloadInterval,
      );
      reloadTimer.unref();
    }
  };
  scheduleFileReload();
  logger.info(
    {
      port,
      metricsPort,
      routes: rt.routes.all().map((r) => ({ name: r.name, prefix: r.prefix, upstream: r.cfg.upstream.url })),
    },
    'promgate listening',
  );

  const retire = (old: Runtime) => {
    // Requests that started on the old runtime finish with it; close it once they surely have.
    setTimeout(() => {
      void old.close();
      for (const [key, up] of pools)
        if (!rt.poolKeys.has(key)) {
          pools.delete(key);
          void up.close();
        }
    }, cfg.server.shutdownTimeout).unref();
  };

  return {
    port,
    metricsPort,
    runtime: () => rt,
    async reload() {
      try {
        const next = opts.load();
        if (
          next.server.port !== cfg.server.port ||
          next.server.host !== cfg.server.host ||
          next.server.metricsPort !== cfg.server.metricsPort
        ) {
          logger.warn('server.host/port/metricsPort changes need a restart; the new values are ignored until then');
        }
        const old = rt;
        await loadFeatures(next);
        rt = build(next);
        cfg = next;
        metrics.reload('config', true);
        logger.info('configuration reloaded');
        void readiness.track(rt.routes.all());
        scheduleFileReload();
        retire(old);
        return true;
      } catch (e) {
        metrics.reload('config', false);
        const problems = e instanceof ConfigError ? e.problems : [(e as Error).message];
        logger.error({ problems }, 'configuration reload refused; the previous configuration keeps serving');
        return false;
      }
    },
    async shutdown() {
      if (draining) return;
      draining = true;
      logger.info({ inflight }, 'shutting down: no new connections, draining in-flight requests');
      readiness.stop();
      clearInterval(reloadTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      metricsServer?.close();
      const deadline = Date.now() + cfg.server.shutdownTimeout;
      while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      if (inflight > 0) logger.warn({ inflight }, 'drain deadline reached; closing remaining connections');
      server.closeAllConnections();
      metricsServer?.closeAllConnections();
      await closed;
      await rt.close();
      await Promise.allSettled([...pools.values()].map((p) => p.close()));
      await limits.close();
      logger.info('stopped');
    },
  };
}
