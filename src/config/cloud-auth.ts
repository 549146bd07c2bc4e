// Cloud signing settings as the config check and the signers both read them: the AWS region, and which Entra ID credential with what.

/** The region: the config's, else AWS_REGION, else AWS_DEFAULT_REGION (as prometheus-multi-tenant-proxy reads them). */
export function awsRegion(cfg: { region?: string }, env: NodeJS.ProcessEnv): string | undefined {
  return cfg.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
}

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
export function resolveAzure(
  cfg: Omit<AzureAuthConfig, 'scope' | 'disableInstanceDiscovery' | 'credentialTimeout'>,
  env: NodeJS.ProcessEnv,
): AzureResolved {
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
export function azureProblems(
  cfg: Omit<AzureAuthConfig, 'scope' | 'disableInstanceDiscovery' | 'credentialTimeout'>,
  env: NodeJS.ProcessEnv,
): { key: string; message: string }[] {
  const r = resolveAzure(cfg, env);
  const out: { key: string; message: string }[] = [];
  if (r.mode === 'clientSecret') {
    if (!r.tenantId)
      out.push({
        key: 'tenantId',
        message: 'a client secret needs the tenant id (tenantId, AZURE_TENANT_ID or --azure-tenant-id)',
      });
    if (!r.clientId)
      out.push({
        key: 'clientId',
        message: 'a client secret needs the client id (clientId, AZURE_CLIENT_ID or --azure-client-id)',
      });
    if (cfg.clientSecret === undefined || cfg.clientSecret === '')
      out.push({ key: 'clientSecret', message: 'credential clientSecret needs clientSecret or clientSecretFile' });
  }
  if (r.mode === 'workloadIdentity') {
    if (!r.tenantId)
      out.push({ key: 'tenantId', message: 'workload identity needs the tenant id (tenantId or AZURE_TENANT_ID)' });
    if (!r.clientId)
      out.push({ key: 'clientId', message: 'workload identity needs the client id (clientId or AZURE_CLIENT_ID)' });
    if (!r.federatedTokenFile)
      out.push({
        key: 'federatedTokenFile',
        message: 'workload identity needs the token file (federatedTokenFile or AZURE_FEDERATED_TOKEN_FILE)',
      });
  }
  if (r.authorityHost !== undefined && !/^https:\/\//i.test(r.authorityHost))
    out.push({ key: 'authorityHost', message: `must be an https:// URL: "${r.authorityHost}"` });
  return out;
}
