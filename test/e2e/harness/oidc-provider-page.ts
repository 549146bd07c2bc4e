// The little of oidc-provider's API the test provider uses (it ships no types), and its sign-in form.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ProviderCtx {
  path: string;
  method: string;
  oidc?: { params?: Record<string, unknown> };
}
export interface GrantLike {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}
export interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId: string };
  grantId?: string;
}
export interface ProviderInstance {
  use(mw: (ctx: ProviderCtx, next: () => Promise<void>) => Promise<void>): void;
  on(event: 'refresh_token.saved', fn: (token: { destroy(): Promise<void> }) => void): void;
  on(event: 'server_error', fn: (ctx: unknown, err: Error) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  Grant: {
    new (o: { accountId: string; clientId: string }): GrantLike;
    find(id: string): Promise<GrantLike | undefined>;
  };
}
export type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => ProviderInstance;
export const PROVIDER_MODULE = 'oidc-provider';

export function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginForm(res: ServerResponse, uid: string, failed: boolean): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head><body>
<h1>Test IdP</h1>${failed ? '<p id="error">Invalid username or password</p>' : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input id="username" name="login" autocomplete="username" autofocus></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in</button></form></body></html>`;
  res.writeHead(failed ? 401 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}
