// The Identity that authentication produces and every later stage reads.
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

export type AuthMethod = 'cert' | 'basic' | 'jwt' | 'session' | 'anonymous';

export interface Identity {
  /** Stable subject: username for basic, `sub` for tokens. */
  subject: string;
  /** Display user name (preferred_username, username). */
  user: string;
  email?: string;
  groups: readonly string[];
  /** Raw token claims, or for basic auth the users-file entry fields (namespaces, labels). */
  claims: Readonly<Record<string, unknown>>;
  method: AuthMethod;
  /** OIDC sessions only: tokens to pass upstream when configured. */
  tokens?: { accessToken?: string; idToken?: string };
  /** Set-Cookie values the response must carry (a refreshed session). */
  setCookies?: string[];
}

/** What an authenticator may look at. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** Decoded request path (no query). */
  path: string;
  /** The connection (a TLSSocket on a TLS listener: the client certificate and whether it was verified). */
  socket?: Socket;
}

export interface Authenticator {
  readonly method: AuthMethod;
  /**
   * null when the request carries no credential of this kind (the next method is tried);
   * throws a 401 GatewayError when it carries one that is bad. Never falls through on a bad credential.
   */
  authenticate(req: AuthRequest): Identity | null | Promise<Identity | null>;
  /** False while keys/users are not loaded yet (reported by /-/ready). */
  ready?(): boolean;
  /** Re-read files now (SIGHUP, reload interval). Keeps the last good version on failure. */
  reload?(): Promise<void>;
  close?(): void | Promise<void>;
}
