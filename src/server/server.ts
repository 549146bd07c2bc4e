// The gateway process: listener(s), config swap on reload, readiness, and graceful shutdown.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
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
import { createServerTls, type ServerTls } from './tls.js';
import { openAuditFile } from '../observability/audit.js';

/** The main listener: plain HTTP, HTTPS, or HTTP/2 with HTTP/1.1 fallback (all three are tls.Server or http.Server). */
type Listener = Server | Http2SecureServer;

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
  load: () => Config | Promise<Config>;
  metrics?: GatewayMetrics;
}

function listen(server: Listener, host: string, port: number): Promise<number> {
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

/**
 * True when the head overflowed inside its request line (a long path or query string): the packet that
 * overflowed starts with a method and a target whose line is longer than the limit. A packet that cannot show
 * it (the line arrived in pieces) is answered 431 like any other oversized head.
 */
function requestLineOverflow(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, limit: number): boolean {
  const raw = err.rawPacket;
  if (!Buffer.isBuffer(raw)) return false;
  if (!/^[A-Z]{1,16} \S/.test(raw.subarray(0, 64).toString('latin1'))) return false;
  const eol = raw.indexOf('\n');
  return eol === -1 ? raw.length >= limit : eol >= limit;
}

function clientError(err: NodeJS.ErrnoException, socket: Socket, maxHeaderBytes: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const ge =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? requestLineOverflow(err, maxHeaderBytes)
        ? new GatewayError('PG_URI_TOO_LONG', 'request line (path and query string) too long')
        : new GatewayError('PG_HEADERS_TOO_LARGE', 'request line or headers too large')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new GatewayError('PG_CLIENT_TIMEOUT', 'the request was not received in time')
        : new GatewayError('PG_BAD_REQUEST', 'malformed HTTP request');
  socket.end(rawErrorResponse(ge));
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { logger } = opts;
  let cfg = await opts.load();
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
  // The audit file outlives reloads (changing server.auditLog needs a restart, like the listener).
  const auditFile = await openAuditFile(cfg.server.auditLog, (err) =>
    logger.error({ err: err.message, file: cfg.server.auditLog.file }, 'audit log write failed'),
  );
  const build = (c: Config): Runtime => {
    const rt = buildRuntime(c, { logger, metrics, pools, limits });
    rt.own = createOwnEndpoints(rt, { readiness, draining: () => draining, protections });
    if (auditFile && c.server.auditLog.enabled) rt.audit = auditFile.write;
    return rt;
  };
  await loadFeatures(cfg);
  let rt = build(cfg);
  metrics.circuitsFrom(() => circuits().map(([url, b]) => [url, STATE_VALUE[b.state()]] as const));
  metrics.inflightFrom(() => rt.limits.inflight());
  metrics.poolsFrom(() => rt.routes.all().flatMap((r) => (r.router ? [[r.name, r.router.size] as const] : [])));
  let inflight = 0;
  const pipeline = createPipeline(
    () => rt,
    () => inflight--,
  );
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inflight++;
    if (req.httpVersionMajor === 2) {
      // HTTP/2 names the host in :authority; every reader of Host (forwarded headers, the sign-in callback) sees it there.
      const authority = req.headers[':authority'];
      if (req.headers.host === undefined && typeof authority === 'string') req.headers.host = authority;
    } else if (draining) res.setHeader('connection', 'close'); // HTTP/2 has none: a GOAWAY ends the session

    pipeline(req, res);
  };
  const s = cfg.server;
  // node:http refuses a headersTimeout above a non-zero requestTimeout; both are checked on its connection
  // timer, which runs often enough for the shorter of them to be kept to within a quarter.
  const headersTimeout = s.requestTimeout > 0 ? Math.min(s.headersTimeout, s.requestTimeout) : s.headersTimeout;
  const httpOptions = {
    maxHeaderSize: s.maxHeaderBytes,
    requestTimeout: s.requestTimeout,
    headersTimeout,
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeout / 4))),
    keepAliveTimeout: s.keepAliveTimeout,
  };
  let tls: ServerTls | undefined;
  let server: Listener;
  let metricsTls = false;
  /** Open TLS connections and HTTP/2 sessions, for shutdown (an HTTP/2 server has no closeAllConnections). */
  const sockets = new Set<TLSSocket>();
  const sessions = new Set<ServerHttp2Session>();
  const secured: { setSecureContext(o: object): void }[] = [];
  if (s.tls) {
    const t = s.tls;
    tls = createServerTls(t, {
      apply(plain, withCa) {
        for (const l of secured) l.setSecureContext(l === server ? { ...withCa } : { ...plain });
      },
      onReload(ok, reason) {
        metrics.reload('server.tls', ok);
        if (ok) logger.info({ source: 'server.tls' }, 'server TLS files reloaded; new connections use them');
        else
          logger.error(
            { source: 'server.tls', reason },
            'server TLS files refused; the previous certificate keeps serving',
          );
      },
    });
    metricsTls = t.metrics;
    server = t.http2
      ? createSecureServer(
          {
            ...tls.options,
            ...httpOptions,
            allowHTTP1: true,
            maxSessionInvalidFrames: 100,
            settings: { maxHeaderListSize: s.maxHeaderBytes },
          },
          onRequest as unknown as Parameters<typeof createSecureServer>[1],
        )
      : createHttpsServer({ ...tls.options, ...httpOptions }, onRequest);
    secured.push(server as { setSecureContext(o: object): void });
    server.on('secureConnection', (sock: TLSSocket) => {
      // clientAuth: request lets a client present no certificate, never one that its CA did not sign.
      if (t.clientCaFile && !sock.authorized && sock.getPeerCertificate().raw !== undefined) {
        sock.destroy();
        return;
      }
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
    });
    if (t.http2) {
      (server as Http2SecureServer).on('session', (sess: ServerHttp2Session) => {
        sessions.add(sess);
        sess.once('close', () => sessions.delete(sess));
      });
    }
  } else {
    server = createServer(httpOptions, onRequest);
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => clientError(err, socket, s.maxHeaderBytes));
  let port: number;
  try {
    port = await listen(server, s.host, s.port);
  } catch (e) {
    tls?.close();
    await auditFile?.close();
    throw e;
  }
  let metricsServer: Server | undefined;
  let metricsPort: number | undefined;
  if (s.metricsPort !== undefined) {
    const onMetrics = (req: IncomingMessage, res: ServerResponse) => {
      if ((req.url ?? '').split('?')[0] === rt.cfg.server.metricsPath) void serveMetrics(rt, res);
      else renderError(res, new GatewayError('PG_NOT_FOUND', 'only the metrics path is served on this port'), false);
    };
    if (tls && metricsTls) {
      const m = createHttpsServer(tls.plainOptions, onMetrics);
      secured.push(m);
      metricsServer = m;
    } else metricsServer = createServer(onMetrics);
    try {
      metricsPort = await listen(metricsServer, s.host, s.metricsPort);
    } catch (e) {
      server.close();
      tls?.close();
      await auditFile?.close();
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
      tls: s.tls ? { http2: s.tls.http2, clientAuth: s.tls.clientCaFile ? s.tls.clientAuth : undefined } : undefined,
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
        const next = await opts.load();
        if (
          next.server.port !== cfg.server.port ||
          next.server.host !== cfg.server.host ||
          next.server.metricsPort !== cfg.server.metricsPort ||
          JSON.stringify(next.server.tls) !== JSON.stringify(cfg.server.tls) ||
          JSON.stringify(next.server.auditLog) !== JSON.stringify(cfg.server.auditLog)
        ) {
          logger.warn(
            'server.host/port/metricsPort/tls/auditLog changes need a restart; the new values are ignored until then (the TLS files themselves are re-read when they change)',
          );
        }
        const old = rt;
        await loadFeatures(next);
        rt = build(next);
        cfg = next;
        metrics.reload('config', true);
        logger.info('configuration reloaded');
        void readiness.track(rt.routes.all());
        scheduleFileReload();
        tls?.reload();
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
      tls?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      // HTTP/2: GOAWAY, so clients open no new streams; the streams in flight finish.
      for (const sess of sessions) sess.close();
      metricsServer?.close();
      const deadline = Date.now() + cfg.server.shutdownTimeout;
      while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      if (inflight > 0) logger.warn({ inflight }, 'drain deadline reached; closing remaining connections');
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const sess of sessions) sess.destroy();
      for (const sock of sockets) sock.destroy();
      metricsServer?.closeAllConnections();
      await closed;
      await rt.close();
      await Promise.allSettled([...pools.values()].map((p) => p.close()));
      await limits.close();
      await auditFile?.close();
      logger.info('stopped');
    },
  };
}
