// An in-process OpenID provider (oidc-provider) for login tests, plus a cookie-keeping HTTP client that can log in through it.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, exportJWK } from 'jose';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { authSchema, type OidcConfig, type OidcConfigInput } from '../../../src/config/schema-auth.js';
import { GatewayError } from '../../../src/errors.js';
import { createSessionAuthenticator, type SessionAuthenticator } from '../../../src/authn/session/authenticator.js';
import { createOAuth2Endpoints, type OAuth2Endpoints } from '../../../src/forward-auth/endpoints.js';
import { upstreamIdentityHeaders } from '../../../src/forward-auth/headers.js';
import { createProxyTrust } from '../../../src/server/trusted-proxies.js';

// oidc-provider ships no type declarations: the little of its API used here, typed by hand.
interface ProviderCtx {
  path: string;
  method: string;
  oidc?: { params?: Record<string, unknown> };
}
interface GrantLike {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}
interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId: string };
  grantId?: string;
}
interface ProviderInstance {
  use(mw: (ctx: ProviderCtx, next: () => Promise<void>) => Promise<void>): void;
  on(event: 'refresh_token.saved', fn: (token: { destroy(): Promise<void> }) => void): void;
  on(event: 'server_error', fn: (ctx: unknown, err: Error) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  Grant: { new (o: { accountId: string; clientId: string }): GrantLike; find(id: string): Promise<GrantLike | undefined> };
}
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => ProviderInstance;
const PROVIDER_MODULE = 'oidc-provider';

export interface TestUser {
  id: string;
  password: string;
  email?: string;
  emailVerified?: boolean;
  preferredUsername?: string;
  groups?: string[];
}

export interface OidcProviderOptions {
  /** Callback URLs of the gateway(s) under test (exact match, as the provider requires). */
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  users?: TestUser[];
  /** Access-token lifetime in seconds (default 3600); a short one makes the next request refresh. */
  accessTokenTtl?: number;
  /** Issue refresh tokens to every client allowed the grant, without offline_access (default true). */
  refreshTokens?: boolean;
  /** Put email/groups/profile claims into the ID token (default true); false keeps them at userinfo only. */
  claimsInIdToken?: boolean;
}

export interface ClientCreds {
  clientId: string;
  clientSecret: string;
}

export interface OidcProviderFixture {
  issuer: string;
  clients: { basic: ClientCreds; post: ClientCreds };
  users: TestUser[];
  /** How many token-endpoint requests of this grant type (or all) were answered. */
  tokenRequests(grantType?: string): number;
  /** Destroys every refresh token issued so far; refreshing with one then fails with invalid_grant. */
  revokeRefreshTokens(): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_USERS: TestUser[] = [
  { id: 'alice', password: 'alice-pw', email: 'alice@example.com', emailVerified: true, preferredUsername: 'alice', groups: ['team-a', 'admins'] },
  { id: 'bob', password: 'bob-pw', email: 'bob@other.org', emailVerified: true, preferredUsername: 'bob', groups: ['team-b'] },
  { id: 'mallory', password: 'mallory-pw', email: 'mallory@example.com', emailVerified: false, preferredUsername: 'mallory', groups: [] },
];

function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(res: ServerResponse, uid: string, failed: boolean): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head><body>
<h1>Test IdP</h1>${failed ? '<p id="error">Invalid username or password</p>' : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input id="username" name="login" autocomplete="username" autofocus></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in</button></form></body></html>`;
  res.writeHead(failed ? 401 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

export async function startOidcProvider(opts: OidcProviderOptions): Promise<OidcProviderFixture> {
  const users = opts.users ?? DEFAULT_USERS;
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const clients = {
    basic: { clientId: 'promgate-basic', clientSecret: randomBytes(16).toString('hex') },
    post: { clientId: 'promgate-post', clientSecret: randomBytes(16).toString('hex') },
  };
  const clientMeta = (c: ClientCreds, method: string) => ({
    client_id: c.clientId,
    client_secret: c.clientSecret,
    redirect_uris: opts.redirectUris,
    post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: method,
  });

  const Provider = ((await import(PROVIDER_MODULE)) as { default: ProviderCtor }).default;
  const provider = new Provider(issuer, {
    clients: [clientMeta(clients.basic, 'client_secret_basic'), clientMeta(clients.post, 'client_secret_post')],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'], groups: ['groups'] },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: opts.claimsInIdToken === false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    ttl: { AccessToken: opts.accessTokenTtl ?? 3600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 86_400 },
    pkce: { required: () => true },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) => opts.refreshTokens !== false && client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx: unknown, id: string) => {
      const u = users.find((x) => x.id === id);
      if (!u) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: u.email, email_verified: u.emailVerified, preferred_username: u.preferredUsername, name: u.preferredUsername, groups: u.groups }),
      };
    },
  });

  const counts = new Map<string, number>();
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.method === 'POST') {
      const gt = String(ctx.oidc?.params?.grant_type ?? 'unknown');
      counts.set(gt, (counts.get(gt) ?? 0) + 1);
    }
  });
  const refreshTokens: { destroy(): Promise<void> }[] = [];
  provider.on('refresh_token.saved', (t) => refreshTokens.push(t));
  provider.on('server_error', (_ctx, err) => console.error('[test-idp] server_error', err));

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, submit: boolean): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (submit) {
      const body = await readBody(req);
      const u = users.find((x) => x.id === body.get('login'));
      if (!u || u.password !== body.get('password')) return loginForm(res, uid, true);
      await provider.interactionFinished(req, res, { login: { accountId: u.id } }, { mergeWithLastSubmission: false });
      return;
    }
    if (details.prompt.name === 'login') return loginForm(res, uid, false);
    // Consent is granted automatically: the tests are about the relying party, not about consent screens.
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new Error('grant not found');
    const d = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [ind, sc] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(ind, sc.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const handler = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec((req.url ?? '').split('?')[0]!);
    if (!m) return void handler(req, res);
    interaction(req, res, m[1]!, m[2] !== undefined && req.method === 'POST').catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });

  return {
    issuer,
    clients,
    users,
    tokenRequests: (gt) => (gt === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : counts.get(gt) ?? 0),
    async revokeRefreshTokens() {
      const all = refreshTokens.splice(0);
      await Promise.all(all.map((t) => t.destroy()));
      return all.length;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

// ---- A browser without a browser: cookie jar, manual redirects, and the login form ----

interface JarCookie {
  name: string;
  value: string;
  host: string;
  domain?: string;
  path: string;
  expires?: number;
}

/** Enough of RFC 6265 for tests: host-only and Domain cookies, Path prefix, Max-Age/Expires deletion. Ports are ignored, as browsers do. */
export class CookieJar {
  private cookies: JarCookie[] = [];

  store(url: string, setCookies: readonly string[]): void {
    const u = new URL(url);
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const c: JarCookie = { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), host: u.hostname, path: '/' };
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k!.toLowerCase();
        if (key === 'domain') c.domain = v.replace(/^\./, '').toLowerCase();
        else if (key === 'path') c.path = v || '/';
        else if (key === 'max-age') c.expires = Date.now() + Number(v) * 1000;
        else if (key === 'expires' && c.expires === undefined) c.expires = Date.parse(v);
      }
      this.cookies = this.cookies.filter((x) => !(x.name === c.name && x.path === c.path && (x.domain ?? x.host) === (c.domain ?? c.host)));
      if (c.expires === undefined || c.expires > Date.now()) this.cookies.push(c);
    }
  }

  header(url: string): string {
    const u = new URL(url);
    const now = Date.now();
    return this.cookies
      .filter((c) => (c.expires === undefined || c.expires > now) && (c.domain ? u.hostname === c.domain || u.hostname.endsWith('.' + c.domain) : u.hostname === c.host) && u.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  names(): string[] {
    return this.cookies.map((c) => c.name);
  }

  set(name: string, value: string, url: string): void {
    this.store(url, [`${name}=${value}; Path=/`]);
  }

  delete(name: string): void {
    this.cookies = this.cookies.filter((c) => c.name !== name);
  }

  clone(): CookieJar {
    const j = new CookieJar();
    j.cookies = this.cookies.map((c) => ({ ...c }));
    return j;
  }
}

export interface Hop {
  url: string;
  status: number;
  location?: string;
}

export class TestBrowser {
  readonly jar: CookieJar;
  constructor(jar = new CookieJar(), private readonly extraHeaders: Record<string, string> = {}) {
    this.jar = jar;
  }

  /** Another browser holding a copy of this one's cookies (to replay what it held at this moment). */
  clone(): TestBrowser {
    return new TestBrowser(this.jar.clone(), this.extraHeaders);
  }

  /** One request, no redirect following; cookies sent and stored. */
  async request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.extraHeaders, ...init.headers };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  /** Follows redirects until a non-redirect answer, or until `stop(nextUrl)` says to stop before requesting it. */
  async follow(url: string, stop: (next: string) => boolean = () => false, max = 20): Promise<{ res: Response; url: string; hops: Hop[] }> {
    const hops: Hop[] = [];
    let current = url;
    for (let i = 0; i < max; i++) {
      const res = await this.request(current);
      const loc = res.headers.get('location') ?? undefined;
      hops.push({ url: current, status: res.status, location: loc });
      if (res.status < 300 || res.status >= 400 || !loc) return { res, url: current, hops };
      const next = new URL(loc, current).href;
      await res.arrayBuffer();
      if (stop(next)) return { res, url: current, hops };
      current = next;
    }
    throw new Error(`too many redirects: ${hops.map((h) => h.url).join(' -> ')}`);
  }

  /**
   * Starts at `startUrl` (the gateway's /oauth2/start or a protected page), signs in at the test IdP and
   * follows redirects up to the gateway's callback, which is returned without being requested.
   */
  async reachCallback(startUrl: string, user: { id: string; password: string }, callbackPath = '/oauth2/callback'): Promise<{ callbackUrl: string; hops: Hop[] }> {
    let callbackUrl: string | undefined;
    const stopAtCallback = (next: string) => {
      if (new URL(next).pathname !== callbackPath) return false;
      callbackUrl = next;
      return true;
    };
    const first = await this.follow(startUrl, stopAtCallback);
    // Still signed in at the IdP (single sign-on): straight back to the callback, no form.
    if (callbackUrl) return { callbackUrl, hops: first.hops };
    const html = await first.res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (first.res.status !== 200 || !action) throw new Error(`no login form at ${first.url} (${first.res.status}): ${html.slice(0, 300)}`);
    const formUrl = new URL(action.replace(/&amp;/g, '&'), first.url).href;
    const posted = await this.request(formUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: user.id, password: user.password }).toString(),
    });
    const loc = posted.headers.get('location');
    if (!loc) throw new Error(`login refused (${posted.status}): ${(await posted.text()).slice(0, 300)}`);
    const rest = await this.follow(new URL(loc, formUrl).href, stopAtCallback);
    const reached = callbackUrl as string | undefined;
    if (!reached) throw new Error(`never reached ${callbackPath}: ${rest.hops.map((h) => `${h.status} ${h.url}`).join(' -> ')}`);
    return { callbackUrl: reached, hops: [...first.hops, ...rest.hops] };
  }

  /** reachCallback, then the callback itself: its answer is normally a 302 to rd with the session cookie. */
  async login(startUrl: string, user: { id: string; password: string }, callbackPath = '/oauth2/callback'): Promise<{ res: Response; callbackUrl: string }> {
    const { callbackUrl } = await this.reachCallback(startUrl, user, callbackPath);
    return { res: await this.request(callbackUrl), callbackUrl };
  }
}

// ---- A gateway under test: the sign-in endpoints and a protected path on a plain node:http server ----

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
export function mountGateway(at: LateServer, oidc: OidcConfigInput, opts: { trustedProxies?: string[]; redis?: Redis } = {}): TestGateway {
  const cfg = authSchema.parse({ oidc }).oidc!;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const session = createSessionAuthenticator(cfg, { logger, redis: opts.redis });
  const trust = createProxyTrust(opts.trustedProxies ?? []);
  const endpoints = createOAuth2Endpoints(cfg, { logger, trust, session, authenticate: async (r) => session.authenticate(r) });
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
      res.writeHead(200, { 'content-type': 'application/json', ...(id.setCookies ? { 'set-cookie': id.setCookies } : {}) });
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
export function gatewayOidc(idp: OidcProviderFixture, client: ClientCreds, extra: Partial<OidcConfigInput> = {}, secret = randomBytes(32).toString('base64')): OidcConfigInput {
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
