// upstream.auth {type: passthrough}: the caller's own credential goes upstream instead of a service credential.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../../authn/identity.js';

/**
 * The Authorization value the authenticated caller proved: the bearer token it sent (Authorization or the
 * Token header), the access token of its session, or the basic credentials it sent. Anonymous callers have
 * none, and nothing is sent.
 */
export function callerAuthorization(
  id: Identity,
  incoming: IncomingHttpHeaders,
  tokenHeader = 'token',
): string | undefined {
  switch (id.method) {
    case 'session':
      return id.tokens?.accessToken ? `Bearer ${id.tokens.accessToken}` : undefined;
    case 'jwt': {
      const auth = incoming.authorization;
      if (typeof auth === 'string' && /^bearer\s+/i.test(auth))
        return `Bearer ${auth.replace(/^bearer\s+/i, '').trim()}`;
      const raw = incoming[tokenHeader.toLowerCase()];
      return typeof raw === 'string' && raw.trim() !== '' ? `Bearer ${raw.trim()}` : undefined;
    }
    case 'basic': {
      const auth = incoming.authorization;
      return typeof auth === 'string' && /^basic\s+/i.test(auth) ? auth : undefined;
    }
    case 'anonymous':
    case 'cert':
      return undefined;
  }
}
