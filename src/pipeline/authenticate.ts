// The authenticate stage: tries the route's methods in order and returns the first identity, or refuses with 401.
import { GatewayError } from '../errors.js';
import type { Authenticator, AuthRequest, Identity } from '../authn/identity.js';
import { ANONYMOUS } from '../authn/anonymous.js';

export interface AuthChain {
  readonly authenticators: readonly Authenticator[];
  readonly anonymous: boolean;
  /** WWW-Authenticate challenge for a request with no credentials. */
  readonly challenge?: string;
}

export async function authenticate(chain: AuthChain, req: AuthRequest): Promise<Identity> {
  for (const a of chain.authenticators) {
    const r = a.authenticate(req);
    const id = r instanceof Promise ? await r : r;
    if (id) return id;
  }
  if (chain.anonymous) return ANONYMOUS;
  throw new GatewayError('PG_AUTHN_REQUIRED', 'authentication required', chain.challenge ? { headers: { 'www-authenticate': chain.challenge } } : {});
}
