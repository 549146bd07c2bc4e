// The authorization code flow with PKCE S256, state and nonce: building the login redirect and redeeming the callback.
import * as client from 'openid-client';
import { GatewayError } from '../../errors.js';
import type { CookieJar } from '../session/cookies.js';
import type { OidcProvider } from './provider.js';
import type { CsrfCookies } from './csrf.js';

export interface LoginTokens {
  idToken?: string;
  accessToken?: string;
  refreshToken?: string;
  expiresIn?: number;
}

export interface LoginResult {
  claims: Record<string, unknown>;
  tokens: LoginTokens;
  /** The validated post-login destination chosen at start. */
  rd: string;
  /** Deletes the CSRF cookie of this login. */
  clearCsrf: string;
}

/** Provider answers that mean "this login is not valid" (403) versus "the provider is unreachable" (503). */
export function classifyProviderError(e: unknown, what: string): GatewayError {
  if (e instanceof GatewayError) return e;
  if (e instanceof client.ResponseBodyError) {
    if (e.status >= 500)
      return new GatewayError('PG_AUTHN_UNAVAILABLE', `${what}: the OpenID provider failed (${e.status})`, {
        cause: e,
      });
    return new GatewayError('PG_AUTHN_LOGIN_FAILED', `${what}: the OpenID provider refused (${e.error})`, { cause: e });
  }
  // A 401 with a WWW-Authenticate challenge (invalid_client: a wrong client secret) is a refusal, not an outage.
  if (e instanceof client.WWWAuthenticateChallengeError) {
    if (e.status >= 500)
      return new GatewayError('PG_AUTHN_UNAVAILABLE', `${what}: the OpenID provider failed (${e.status})`, {
        cause: e,
      });
    return new GatewayError('PG_AUTHN_LOGIN_FAILED', `${what}: the OpenID provider refused the client (${e.status})`, {
      cause: e,
    });
  }
  if (e instanceof client.AuthorizationResponseError || e instanceof client.ClientError) {
    return new GatewayError('PG_AUTHN_LOGIN_FAILED', `${what}: the provider's answer did not validate`, { cause: e });
  }
  return new GatewayError('PG_AUTHN_UNAVAILABLE', `${what}: the OpenID provider is unreachable`, { cause: e });
}

const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

export interface LoginFlow {
  /** The provider's authorization URL and the CSRF cookie to set. */
  start(opts: {
    rd: string;
    redirectUri: string;
    cookies: CookieJar;
    host: string;
    prompt?: string;
  }): Promise<{ location: string; setCookies: string[] }>;
  /** Validates state, exchanges the code, validates the ID token (signature, iss, aud, exp, nonce). */
  finish(opts: { query: URLSearchParams; cookies: CookieJar; host: string }): Promise<LoginResult>;
}

export function createLoginFlow(
  provider: OidcProvider,
  csrf: CsrfCookies,
  opts: { fetchUserinfo: (claims: Record<string, unknown>) => boolean },
): LoginFlow {
  return {
    async start({ rd, redirectUri, cookies, host, prompt }) {
      const config = await provider.configuration().catch((e: unknown) => {
        throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'the OpenID provider is unreachable', { cause: e });
      });
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const { state, setCookies } = csrf.issue({ verifier, nonce, rd, redirectUri, t: Date.now() }, cookies, host);
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: provider.scope,
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      };
      if (prompt) params.prompt = prompt;
      return { location: client.buildAuthorizationUrl(config, params).href, setCookies };
    },

    async finish({ query, cookies, host }) {
      const error = query.get('error');
      if (error !== null) {
        const code = ERROR_CODE.test(error) ? error : 'invalid_error';
        throw new GatewayError('PG_AUTHN_LOGIN_FAILED', `the OpenID provider refused the login (${code})`);
      }
      const state = query.get('state') ?? '';
      const pending = csrf.consume(state, cookies);
      if (!pending)
        throw new GatewayError(
          'PG_AUTHN_LOGIN_FAILED',
          'login state is missing, expired, already used or does not match (CSRF check)',
        );
      const { login, cookieName } = pending;
      const config = await provider.configuration().catch((e: unknown) => {
        throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'the OpenID provider is unreachable', { cause: e });
      });
      // The callback URL the provider knows, not the one this process saw behind proxies.
      const current = new URL(login.redirectUri);
      for (const [k, v] of query) current.searchParams.append(k, v);
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: login.verifier,
          expectedState: state,
          expectedNonce: login.nonce,
          idTokenExpected: true,
        });
      } catch (e) {
        throw classifyProviderError(e, 'code exchange');
      }
      const idClaims = tokens.claims();
      if (!idClaims) throw new GatewayError('PG_AUTHN_LOGIN_FAILED', 'the provider returned no ID token');
      const claims: Record<string, unknown> = { ...idClaims };
      if (tokens.access_token && opts.fetchUserinfo(claims) && config.serverMetadata().userinfo_endpoint) {
        try {
          const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
          for (const [k, v] of Object.entries(info)) if (!(k in claims)) claims[k] = v;
        } catch (e) {
          throw classifyProviderError(e, 'userinfo');
        }
      }
      return {
        claims,
        tokens: {
          idToken: tokens.id_token,
          accessToken: tokens.access_token,
          refreshToken: tokens.refresh_token,
          expiresIn: tokens.expiresIn(),
        },
        rd: login.rd,
        clearCsrf: csrf.clear(cookieName, host),
      };
    },
  };
}
