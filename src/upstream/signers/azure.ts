// Microsoft Entra ID bearer tokens (Azure Monitor managed Prometheus): client secret, workload identity or managed identity.
import { createRefresher, type Clock } from './refresh.js';
import { redactWith, type SignerDeps, type UpstreamSigner } from './types.js';

export interface AzureAuthConfig {
  scope: string;
  credential: 'auto' | 'clientSecret' | 'workloadIdentity' | 'managedIdentity';
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  federatedTokenFile?: string;
  authorityHost?: string;
  disableInstanceDiscovery: boolean;
  credentialTimeout: number;
}

export type AzureMode = 'clientSecret' | 'workloadIdentity' | 'managedIdentity';

/** The settings after the AKS-injected variables fill what the config leaves out. */
export interface AzureResolved {
  mode: AzureMode;
  tenantId?: string;
  clientId?: string;
  federatedTokenFile?: string;
  authorityHost?: string;
}

/**
 * Which credential: a client secret when one is given; else workload identity when a federated token file is
 * known (AZURE_FEDERATED_TOKEN_FILE, as the AKS webhook injects it); else managed identity (user-assigned with
 * a client id). The Azure prometheus-proxy chooses the same way.
 */
export function resolveAzure(cfg: Omit<AzureAuthConfig, 'scope' | 'disableInstanceDiscovery' | 'credentialTimeout'>, env: NodeJS.ProcessEnv): AzureResolved {
  const tenantId = cfg.tenantId || env.AZURE_TENANT_ID || undefined;
  const clientId = cfg.clientId || env.AZURE_CLIENT_ID || undefined;
  const federatedTokenFile = cfg.federatedTokenFile || env.AZURE_FEDERATED_TOKEN_FILE || undefined;
  const authorityHost = cfg.authorityHost || env.AZURE_AUTHORITY_HOST || undefined;
  let mode: AzureMode;
  if (cfg.credential !== 'auto') mode = cfg.credential;
  else if (cfg.clientSecret !== undefined) mode = 'clientSecret';
  else if (federatedTokenFile) mode = 'workloadIdentity';
  else mode = 'managedIdentity';
  return { mode, tenantId, clientId, federatedTokenFile, authorityHost };
}

/** What is missing for the chosen credential, as config keys (checked at load, so `promgate check` refuses it too). */
export function azureProblems(cfg: Omit<AzureAuthConfig, 'scope' | 'disableInstanceDiscovery' | 'credentialTimeout'>, env: NodeJS.ProcessEnv): { key: string; message: string }[] {
  const r = resolveAzure(cfg, env);
  const out: { key: string; message: string }[] = [];
  if (r.mode === 'clientSecret') {
    if (!r.tenantId) out.push({ key: 'tenantId', message: 'a client secret needs the tenant id (tenantId, AZURE_TENANT_ID or --azure-tenant-id)' });
    if (!r.clientId) out.push({ key: 'clientId', message: 'a client secret needs the client id (clientId, AZURE_CLIENT_ID or --azure-client-id)' });
    if (cfg.clientSecret === undefined || cfg.clientSecret === '') out.push({ key: 'clientSecret', message: 'credential clientSecret needs clientSecret or clientSecretFile' });
  }
  if (r.mode === 'workloadIdentity') {
    if (!r.tenantId) out.push({ key: 'tenantId', message: 'workload identity needs the tenant id (tenantId or AZURE_TENANT_ID)' });
    if (!r.clientId) out.push({ key: 'clientId', message: 'workload identity needs the client id (clientId or AZURE_CLIENT_ID)' });
    if (!r.federatedTokenFile) out.push({ key: 'federatedTokenFile', message: 'workload identity needs the token file (federatedTokenFile or AZURE_FEDERATED_TOKEN_FILE)' });
  }
  if (r.authorityHost !== undefined && !/^https:\/\//i.test(r.authorityHost)) out.push({ key: 'authorityHost', message: `must be an https:// URL: "${r.authorityHost}"` });
  return out;
}

type TokenCredential = import('@azure/identity').TokenCredential;

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
      return new id.WorkloadIdentityCredential({ ...common, tenantId: r.tenantId!, clientId: r.clientId!, tokenFilePath: r.federatedTokenFile! });
    case 'managedIdentity':
      return r.clientId ? new id.ManagedIdentityCredential({ clientId: r.clientId, retryOptions: common.retryOptions }) : new id.ManagedIdentityCredential({ retryOptions: common.retryOptions });
  }
}

/** Entra ID's error text, first line only (the SDK appends a troubleshooting essay), without trace and correlation ids noise. */
function reasonOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 500) ?? 'unknown error';
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
    onError: (reason) => deps.logger.error({ route: deps.route, credential: r.mode, reason }, 'Entra ID token unavailable'),
    onRefresh: (expiresAt) => deps.logger.info({ route: deps.route, credential: r.mode, expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString() }, 'Entra ID token acquired'),
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
