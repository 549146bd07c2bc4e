// The OIDC client secret from the config or its file; without openid-client, so the config check does not load it.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/errors.js';
import type { OidcConfig } from '../../config/schema-auth.js';

export function clientSecretOf(cfg: Pick<OidcConfig, 'clientSecret' | 'clientSecretFile'>): string {
  if (cfg.clientSecret !== undefined && cfg.clientSecret !== '') return cfg.clientSecret;
  if (cfg.clientSecretFile) return readFileSync(cfg.clientSecretFile, 'utf8').replace(/\r?\n$/, '');
  throw ConfigError.at(['auth', 'oidc', 'clientSecret'], 'is required (or clientSecretFile)');
}
