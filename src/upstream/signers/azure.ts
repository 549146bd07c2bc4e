// Microsoft Entra ID bearer tokens (Azure Monitor managed Prometheus): client secret, workload identity or managed identity.
import type * as AzureIdentity from '@azure/identity';
import { resolveAzure, type AzureAuthConfig, type AzureResolved } from '../../config/cloud-auth.js';
import { createRefresher, type Clock } from './refresh.js';

export {
  azureProblems,
  resolveAzure,
  type AzureAuthConfig,
  type AzureMode,
  type AzureResolved,
} from '../../config/cloud-auth.js';
import { redactWith, type SignerDeps, type UpstreamSigner } from './types.js';

type TokenCredential = AzureIdentity.TokenCredential;

/** @azure/identity is loaded only when a route uses it. */
async function loadCredential(cfg: AzureAuthConfig, r: AzureResolved): Promise<TokenCredential> {
  const id = await import('@azure/identity');
  const common = {
    ...(r.authorityHost ? { authorityHost: r.authorityHost } : {}),
    disableInstanceDiscovery: cfg.disableInstanceDiscovery,
    // One quick retry at most: the refresher retries in the background, and a request must not wait through a long back-off.
    retryOptions: { maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  };
  switch (r.mode) {
    case 'clientSecret':
      return new id.ClientSecretCredential(r.tenantId!, r.clientId!, cfg.clientSecret!, common);
    case 'workloadIdentity':
      return new id.WorkloadIdentityCredential({
        ...common,
        tenantId: r.tenantId!,
        clientId: r.clientId!,
        tokenFilePath: r.federatedTokenFile!,
      });
    case 'managedIdentity':
      return r.clientId
        ? new id.ManagedIdentityCredential({ clientId: r.clientId, retryOptions: common.retryOptions })
        : new id.ManagedIdentityCredential({ retryOptions: common.retryOptions });
  }
}

/** Entra ID's error text, first line only (the SDK appends a troubleshooting essay), without trace and correlation ids noise. */
function reasonOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return (
    m
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim()
      .slice(0, 500) ?? 'unknown error'
  );
}

export function createAzureSigner(cfg: AzureAuthConfig, deps: SignerDeps & { clock?: Clock }): UpstreamSigner {
  const r = resolveAzure(cfg, deps.env ?? process.env);
  let credential: Promise<TokenCredential> | undefined;
  let token: string | undefined;
  const redact = redactWith(() => [cfg.clientSecret, token]);
  const tokens = createRefresher<string>({
    timeoutMs: cfg.credentialTimeout,
    clock: deps.clock,
    async fetch() {
      credential ??= loadCredential(cfg, r);
      const c = await credential;
      const abortSignal = AbortSignal.timeout(cfg.credentialTimeout);
      let t: Awaited<ReturnType<TokenCredential['getToken']>>;
      try {
        t = await c.getToken(cfg.scope, { abortSignal });
      } catch (e) {
        throw new Error(redact(reasonOf(e)));
      }
      if (!t) throw new Error('Entra ID returned no token');
      token = t.token;
      return { value: t.token, expiresAt: t.expiresOnTimestamp, refreshAfter: t.refreshAfterTimestamp };
    },
    onError: (reason) =>
      deps.logger.error({ route: deps.route, credential: r.mode, reason }, 'Entra ID token unavailable'),
    onRefresh: (expiresAt) =>
      deps.logger.info(
        {
          route: deps.route,
          credential: r.mode,
          expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString(),
        },
        'Entra ID token acquired',
      ),
  });
  return {
    type: 'azure',
    needsBody: false,
    sign(req) {
      const t = tokens.get();
      if (typeof t === 'string') {
        req.headers.authorization = `Bearer ${t}`;
        return;
      }
      return t.then((v) => {
        req.headers.authorization = `Bearer ${v}`;
      });
    },
    status: () => tokens.status(),
    redact,
    warm: () => tokens.warm(),
    close: () => tokens.close(),
  };
}
