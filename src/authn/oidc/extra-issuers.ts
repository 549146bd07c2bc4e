// oauth2-proxy's --extra-jwt-issuers pairs, parsed without openid-client so the config check does not load it.
import { ConfigError } from '../../config/errors.js';

/** "https://issuer=audience" pairs (oauth2-proxy --extra-jwt-issuers); the issuer URL may itself contain "=". */
export function parseExtraJwtIssuers(entries: readonly string[]): { issuer: string; audience: string }[] {
  return entries.map((e, i) => {
    const eq = e.lastIndexOf('=');
    if (eq <= 0 || eq === e.length - 1)
      throw ConfigError.at(['auth', 'oidc', 'extraJwtIssuers', i], `"${e}": expected issuer=audience`);
    return { issuer: e.slice(0, eq), audience: e.slice(eq + 1) };
  });
}
