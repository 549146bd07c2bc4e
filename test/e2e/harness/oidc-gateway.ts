// A gateway under test without the CLI: the sign-in endpoints and a protected path on a plain node:http server.
import { signInCheck } from '../../../src/authz/allowed.js';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { authSchema, type OidcConfig, type OidcConfigInput } from '../../../src/config/schema-auth.js';
import { GatewayError } from '../../../src/errors.js';
import { createSessionAuthenticator, type SessionAuthenticator } from '../../../src/authn/session/authenticator.js';
import { createOAuth2Endpoints, type OAuth2Endpoints } from '../../../src/signin/endpoints.js';
import { upstreamIdentityHeaders } from '../../../src/signin/headers.js';
import { createProxyTrust } from '../../../src/lib/trusted-proxies.js';
import type { ClientCreds, OidcProviderFixture } from './oidc-provider.js';

export interface TestGateway {
  url: string;
  cfg: OidcConfig;
  session: SessionAuthenticator;
  endpoints: OAuth2Endpoints;
  close(): Promise<void>;
}

export interface LateServer {
  url: string;
  server: Server;
}

/** A listening server whose handler is attached later (its URL must be registered at the IdP first). */
export async function lateServer(): Promise<LateServer> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * Mounts the endpoints the way the pipeline does: /oauth2/* and /ping, /ready to the endpoints; /protected/*
 * authenticated by the session authenticator, answering 200 with the identity headers it would send upstream.
 */
export function mountGateway(
  at: LateServer,
  oidc: OidcConfigInput,
  opts: { trustedProxies?: string[]; redis?: Redis; now?: () => number } = {},
): TestGateway {
  const cfg = authSchema.parse({ oidc }).oidc!;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const session = createSessionAuthenticator(cfg, {
    logger,
    redis: opts.redis,
    now: opts.now,
    allowed: signInCheck(cfg),
  });
  const trust = createProxyTrust(opts.trustedProxies ?? []);
  const endpoints = createOAuth2Endpoints(cfg, {
    logger,
    trust,
    session,
    authenticate: async (r) => session.authenticate(r),
  });
  at.server.removeAllListeners('request');
  at.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', at.url);
    const run = async () => {
      if (endpoints.handles(url.pathname)) return endpoints.handle(req, res, url);
      if (!url.pathname.startsWith('/protected')) return void res.writeHead(404).end();
      let id;
      try {
        id = await session.authenticate({ headers: req.headers, path: url.pathname });
      } catch (e) {
        if (e instanceof GatewayError && e.status === 401) return endpoints.unauthenticated(req, res, url);
        throw e;
      }
      if (!id) return endpoints.unauthenticated(req, res, url);
      const body = JSON.stringify({ user: id.user, upstream: upstreamIdentityHeaders(id, cfg) });
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(id.setCookies ? { 'set-cookie': id.setCookies } : {}),
      });
      res.end(body);
    };
    run().catch((e: unknown) => {
      const err = e instanceof GatewayError ? e : new GatewayError('PG_INTERNAL', String(e));
      if (!res.headersSent) res.writeHead(err.status, { 'content-type': 'text/plain' });
      res.end(err.code);
    });
  });
  return {
    url: at.url,
    cfg,
    session,
    endpoints,
    close: async () => {
      await session.close();
      at.server.closeAllConnections();
      await new Promise<void>((r) => at.server.close(() => r()));
    },
  };
}

/** Base gateway settings for a test IdP client: http everywhere, a fresh cookie secret. */
export function gatewayOidc(
  idp: OidcProviderFixture,
  client: ClientCreds,
  extra: Partial<OidcConfigInput> = {},
  secret = randomBytes(32).toString('base64'),
): OidcConfigInput {
  return {
    issuerUrl: idp.issuer,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    clientAuthMethod: client === idp.clients.post ? 'client_secret_post' : 'client_secret_basic',
    insecure: true,
    ...extra,
    cookie: { secret: [secret], secure: false, ...extra.cookie },
  };
}
