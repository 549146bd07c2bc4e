// An in-process OpenID provider (oidc-provider) for login tests; also exports the test browser and gateway helpers built on it.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK } from 'jose';
import { rsaKeyPair } from '../../helpers/rsa-keys.js';
import { PROVIDER_MODULE, loginForm, readBody, type ProviderCtor } from './oidc-provider-page.js';

export * from './test-browser.js';
export * from './oidc-gateway.js';

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
  /** Takes the provider off the network (connections refused), keeping its state: an outage. */
  down(): Promise<void>;
  /** Brings it back on the same port, with the same keys, clients, sessions and tokens. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_USERS: TestUser[] = [
  {
    id: 'alice',
    password: 'alice-pw',
    email: 'alice@example.com',
    emailVerified: true,
    preferredUsername: 'alice',
    groups: ['team-a', 'admins'],
  },
  {
    id: 'bob',
    password: 'bob-pw',
    email: 'bob@other.org',
    emailVerified: true,
    preferredUsername: 'bob',
    groups: ['team-b'],
  },
  {
    id: 'mallory',
    password: 'mallory-pw',
    email: 'mallory@example.com',
    emailVerified: false,
    preferredUsername: 'mallory',
    groups: [],
  },
];

export async function startOidcProvider(opts: OidcProviderOptions): Promise<OidcProviderFixture> {
  const users = opts.users ?? DEFAULT_USERS;
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await rsaKeyPair('RS256');
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
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: opts.claimsInIdToken === false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    ttl: {
      AccessToken: opts.accessTokenTtl ?? 3600,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 86_400,
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) =>
      opts.refreshTokens !== false && client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx: unknown, id: string) => {
      const u = users.find((x) => x.id === id);
      if (!u) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: u.email,
          email_verified: u.emailVerified,
          preferred_username: u.preferredUsername,
          name: u.preferredUsername,
          groups: u.groups,
        }),
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
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new Error('grant not found');
    const d = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
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
    tokenRequests: (gt) => (gt === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(gt) ?? 0)),
    async revokeRefreshTokens() {
      const all = refreshTokens.splice(0);
      await Promise.all(all.map((t) => t.destroy()));
      return all.length;
    },
    down: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    up: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(new URL(issuer).port), '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        if (!server.listening) return r();
        server.close(() => r());
      }),
  };
}
