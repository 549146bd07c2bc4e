// The anonymous identity, for routes and paths that admit callers without credentials.
import type { Identity } from './identity.js';

export const ANONYMOUS: Identity = Object.freeze({
  subject: 'anonymous',
  user: 'anonymous',
  groups: Object.freeze([]) as readonly string[],
  claims: Object.freeze({}),
  method: 'anonymous',
});
