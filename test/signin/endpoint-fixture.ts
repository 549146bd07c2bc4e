// A gateway's /oauth2 endpoints without a provider: a fake authenticator knows one user (x-test-user: alice).
import { signInCheck } from '../../src/authz/allowed.js';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { authSchema, type OidcConfigInput } from '../../src/config/schema-auth.js';
import { GatewayError } from '../../src/errors.js';
import type { Identity } from '../../src/authn/identity.js';
import { createSessionAuthenticator } from '../../src/authn/session/authenticator.js';
import { createOAuth2Endpoints } from '../../src/signin/endpoints.js';
import { createProxyTrust } from '../../src/lib/trusted-proxies.js';

export const ALICE: Identity = {
  subject: 'sub-1',
  user: 'alice',
  email: 'alice@example.com',
  groups: ['team-a', 'admins'],
  method: 'session',
  claims: { sub: 'sub-1', preferred_username: 'alice' },
  tokens: { accessToken: 'at-1', idToken: 'h.p.s' },
};

export interface Running {
  url: string;
  server: Server;
}
export const running: Running[] = [];

/** Endpoints whose chain knows one user: requests with "x-test-user: alice" (or a bad one that throws 401). */
export async function start(oidc: Partial<OidcConfigInput>, trusted: string[]): Promise<string> {
  const cfg = authSchema.parse({
    oidc: {
      issuerUrl: 'http://127.0.0.1:9',
      clientId: 'c',
      clientSecret: 's',
      insecure: true,
      cookie: { secret: [randomBytes(32).toString('base64')] },
      ...oidc,
    },
  }).oidc!;
  const logger = pino({ level: 'silent' });
  const session = createSessionAuthenticator(cfg, { logger, allowed: signInCheck(cfg) });
  const endpoints = createOAuth2Endpoints(cfg, {
    logger,
    trust: createProxyTrust(trusted),
    session,
    authenticate: async (r) => {
      const u = r.headers['x-test-user'];
      if (u === 'alice')
        return { ...ALICE, setCookies: r.headers['x-test-refresh'] ? ['_oauth2_proxy=new; Path=/'] : undefined };
      if (u === 'expired') throw new GatewayError('PG_AUTHN_TOKEN_EXPIRED', 'session expired');
      return null;
    },
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (endpoints.handles(url.pathname)) void endpoints.handle(req, res, url);
    else endpoints.unauthenticated(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  running.push({ url, server });
  return url;
}

/** Closes every gateway start() opened. */
export function stopAll(): void {
  for (const r of running.splice(0)) r.server.close();
}
