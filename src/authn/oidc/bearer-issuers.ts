// skip-jwt-bearer-tokens: which issuers' ID/access tokens count as a login, in the shape auth.jwt.issuers uses.
import * as client from 'openid-client';
import { parseExtraJwtIssuers } from './extra-issuers.js';
import type { OidcConfig } from '../../config/schema-auth.js';
import type { OidcProvider } from './provider.js';

export interface BearerIssuer {
  issuer: string;
  /** JWKS URL from the issuer's discovery document. */
  jwks: string;
  audience: string;
}

/**
 * The login provider (audience = client id) plus every extra issuer, each with its discovered JWKS URL.
 * Empty when skipJwtBearerTokens is off. The lead's JWT authenticator verifies the tokens.
 */
export async function bearerIssuers(cfg: OidcConfig, provider: OidcProvider): Promise<BearerIssuer[]> {
  if (!cfg.skipJwtBearerTokens) return [];
  const out: BearerIssuer[] = [];
  const main = (await provider.configuration()).serverMetadata();
  if (main.jwks_uri) out.push({ issuer: main.issuer, jwks: main.jwks_uri, audience: cfg.clientId });
  for (const extra of parseExtraJwtIssuers(cfg.extraJwtIssuers)) {
    const url = new URL(extra.issuer);
    const opts: client.DiscoveryRequestOptions = { timeout: Math.max(1, Math.ceil(cfg.httpTimeout / 1000)) };
    if (url.protocol === 'http:' && cfg.insecure) opts.execute = [client.allowInsecureRequests];
    const meta = (await client.discovery(url, extra.audience, undefined, client.None(), opts)).serverMetadata();
    if (!meta.jwks_uri) throw new Error(`extra-jwt-issuers: ${extra.issuer} publishes no jwks_uri`);
    out.push({ issuer: meta.issuer, jwks: meta.jwks_uri, audience: extra.audience });
  }
  return out;
}
