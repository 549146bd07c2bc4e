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

/** Which method refused a request (for promgate_auth_failures_total), keyed by the error it threw. */
const refusedBy = new WeakMap<object, string>();

export function refusingMethod(err: unknown): string {
  return (typeof err === 'object' && err !== null && refusedBy.get(err)) || 'none';
}

function tag(err: unknown, method: string): unknown {
  if (typeof err === 'object' && err !== null && !refusedBy.has(err)) refusedBy.set(err, method);
  return err;
}

/**
 * Synchronous while the authenticators answer synchronously (a cached credential), so the common request
 * allocates no promise here; an authenticator that must wait (a first password check, a JWKS fetch) makes
 * the rest of the chain asynchronous. A refusal may therefore throw or reject: callers await inside try.
 */
export function authenticate(chain: AuthChain, req: AuthRequest, start = 0): Identity | Promise<Identity> {
  const list = chain.authenticators;
  for (let i = start; i < list.length; i++) {
    const a = list[i]!;
    let r: ReturnType<Authenticator['authenticate']>;
    try {
      r = a.authenticate(req);
    } catch (e) {
      throw tag(e, a.method);
    }
    if (r instanceof Promise) {
      return r.then(
        (id) => id ?? authenticate(chain, req, i + 1),
        (e: unknown) => {
          throw tag(e, a.method);
        },
      );
    }
    if (r) return r;
  }
  if (chain.anonymous) return ANONYMOUS;
  throw new GatewayError(
    'PG_AUTHN_REQUIRED',
    'authentication required',
    chain.challenge ? { headers: { 'www-authenticate': chain.challenge } } : {},
  );
}
