// Modules only some configs use, loaded with `await import()` before a runtime is built, so a process serves with
// only what its config needs in memory (issue 16.1: jose and openid-client alone are ~15 MB of RSS).
import type { Config } from '../config/schema.js';
import type * as JwtModule from '../authn/jwt.js';
import type * as OidcModule from './oidc.js';

/**
 * To add one (the portal, a signer, a store): a field here, one `if` in loadFeatures naming the config that needs
 * it, and `need('name')` where the runtime is built. The static import graph then never reaches the module.
 */
export interface Features {
  jwt?: typeof JwtModule;
  oidc?: typeof OidcModule;
}

const loaded: Features = {};

/** Loads what `cfg` uses (once per process; modules stay loaded across reloads). */
export async function loadFeatures(cfg: Config): Promise<void> {
  if ((cfg.auth.jwt || cfg.auth.oidc) && !loaded.jwt) loaded.jwt = await import('../authn/jwt.js');
  if (cfg.auth.oidc && !loaded.oidc) loaded.oidc = await import('./oidc.js');
}

/** A feature module the config uses; throws when loadFeatures was not awaited for it (a wiring bug). */
export function need<K extends keyof Features>(name: K): NonNullable<Features[K]> {
  const m = loaded[name];
  if (!m) throw new Error(`internal: feature module ${name} used before loadFeatures()`);
  return m as NonNullable<Features[K]>;
}
