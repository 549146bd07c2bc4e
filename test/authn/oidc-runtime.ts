// The whole gateway in-process (helpers/gateway.ts, so oidc-wiring, routes and authorization are real) set up for OIDC tests.
import { randomBytes } from 'node:crypto';
import type { Gateway } from '../../src/server/server.js';
import { startInProcess } from '../helpers/gateway.js';
import type { OidcProviderFixture, ClientCreds, TestBrowser } from '../e2e/harness/oidc-provider.js';
import type { Stub } from '../helpers/upstream-stub.js';

export interface RuntimeGateway {
  url: string;
  gw: Gateway;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** auth.oidc on top of issuer, client and a fresh cookie secret (cookie.secure is left at its default). */
  oidc?: Record<string, unknown>;
  /** Extra routes put before the catch-all "/" http route to `app`. */
  routes?: Record<string, unknown>[];
  tenants?: Record<string, unknown>;
  /** A `portal` block. */
  portal?: Record<string, unknown>;
  /** Replaces the client secret with clientSecretFile (the file is read by loadConfig). */
  clientSecretFile?: string;
}

/** auth.oidc for a test IdP client over plain http; the caller's keys win. */
export function oidcFor(
  idp: OidcProviderFixture,
  client: ClientCreds,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    issuerUrl: idp.issuer,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    clientAuthMethod: client === idp.clients.post ? 'client_secret_post' : 'client_secret_basic',
    insecure: true,
    cookie: { secret: randomBytes(32).toString('base64') },
    ...extra,
  };
}

/** Starts the gateway on `port` (registered at the IdP beforehand; 0 when nobody logs in) with an http app route to `app`. */
export async function startRuntime(
  port: number,
  idp: OidcProviderFixture,
  client: ClientCreds,
  app: Stub,
  o: RuntimeOptions = {},
): Promise<RuntimeGateway> {
  const oidc = oidcFor(idp, client, o.oidc);
  if (o.clientSecretFile !== undefined) {
    delete oidc.clientSecret;
    oidc.clientSecretFile = o.clientSecretFile;
  }
  const g = await startInProcess({
    port,
    logLevel: 'silent',
    config: {
      server: { logLevel: 'silent', accessLog: false, shutdownTimeout: '2s' },
      routes: [...(o.routes ?? []), { name: 'app', prefix: '/', upstream: { url: app.url, type: 'http' } }],
      auth: { oidc },
      ...(o.tenants ? { tenants: o.tenants } : {}),
      ...(o.portal ? { portal: o.portal } : {}),
    },
  });
  return { url: g.url, gw: g.gateway, close: () => g.close() };
}

/** The ID token the gateway holds for a signed-in browser, read from /oauth2/auth (needs setAuthorizationHeader). */
export async function idTokenOf(b: TestBrowser, gatewayUrl: string): Promise<string> {
  const res = await b.request(`${gatewayUrl}/oauth2/auth`);
  const m = /^Bearer (eyJ[\w-]+\.[\w-]+\.[\w-]+)$/.exec(res.headers.get('authorization') ?? '');
  if (res.status !== 202 || !m) throw new Error(`no ID token from ${gatewayUrl}/oauth2/auth (${res.status})`);
  return m[1]!;
}

/** The scope parameter of the authorization request /oauth2/start redirects to. */
export async function startScope(b: TestBrowser, gatewayUrl: string, prefix = '/oauth2'): Promise<string[]> {
  const res = await b.request(`${gatewayUrl}${prefix}/start`);
  if (res.status !== 302) throw new Error(`${prefix}/start answered ${res.status}`);
  return (new URL(res.headers.get('location')!).searchParams.get('scope') ?? '').split(' ');
}
