// Checks that span several keys (duplicate route prefixes, CIDRs, port clashes) after the schema has passed.
import type { Config } from './schema.js';
import { accessSync, constants } from 'node:fs';
import { createProxyTrust } from '../lib/trusted-proxies.js';
import { awsRegion, azureProblems } from './cloud-auth.js';

export interface SemanticProblem {
  path: (string | number)[];
  message: string;
}

/** `env` supplies AWS_REGION and the AZURE_* variables that may complete an upstream's credentials. */
export function validateSemantics(cfg: Config, env: NodeJS.ProcessEnv = {}): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const prefixes = new Map<string, number>();
  cfg.routes.forEach((r, i) => {
    const p = normalizePrefix(r.prefix);
    const prev = prefixes.get(p);
    if (prev !== undefined) problems.push({ path: ['routes', i, 'prefix'], message: `prefix "${r.prefix}" is already used by routes[${prev}]` });
    prefixes.set(p, i);
    if (r.apiPrefix !== '' && (!r.apiPrefix.startsWith('/') || r.apiPrefix.endsWith('/'))) {
      problems.push({ path: ['routes', i, 'apiPrefix'], message: 'must start with / and not end with / (e.g. /prometheus)' });
    }
    const up = r.upstream.auth;
    if (up.type === 'bearer' && !up.token && !up.tokenFile) problems.push({ path: ['routes', i, 'upstream', 'auth'], message: 'bearer needs token or tokenFile' });
    const at = (...k: (string | number)[]) => ['routes', i, 'upstream', ...k];
    if (up.type === 'aws' && !awsRegion(up, env)) problems.push({ path: at('auth', 'region'), message: 'aws signing needs a region: set region, or AWS_REGION / AWS_DEFAULT_REGION' });
    if (up.type === 'azure') for (const p of azureProblems(up, env)) problems.push({ path: at('auth', p.key), message: p.message });
    // Two things would want the Authorization header: the caller's token and the service credential.
    if (up.type !== 'none' && up.type !== 'passthrough' && cfg.auth.oidc?.passAuthorizationHeader) {
      problems.push({ path: at('auth', 'type'), message: `auth.oidc.passAuthorizationHeader sends the caller's token in Authorization, which ${up.type} credentials replace; use upstream.auth type passthrough, or turn passAuthorizationHeader off` });
    }
    const tls = r.upstream.tls;
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      const file = tls?.[key];
      if (file === undefined) continue;
      try {
        accessSync(file, constants.R_OK);
      } catch (e) {
        problems.push({ path: at('tls', key), message: `cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      }
    }
    if (tls && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      problems.push({ path: at('tls', tls.certFile === undefined ? 'certFile' : 'keyFile'), message: 'mTLS needs both certFile and keyFile' });
    }
  });
  try {
    createProxyTrust(cfg.server.trustedProxies);
  } catch (e) {
    problems.push({ path: ['server', 'trustedProxies'], message: (e as Error).message });
  }
  if (cfg.server.metricsPort !== undefined && cfg.server.metricsPort === cfg.server.port) {
    problems.push({ path: ['server', 'metricsPort'], message: 'must differ from server.port (leave it unset to serve /metrics on the main port)' });
  }
  const a = cfg.auth;
  if (cfg.routes.length === 0 && !a.oidc) problems.push({ path: ['routes'], message: 'at least one route is needed (or auth.oidc, to serve only /oauth2/* forward auth)' });
  if (!a.basic && !a.jwt && !a.oidc && !a.anonymous) {
    problems.push({ path: ['auth'], message: 'no authentication method is configured (set auth.basic, auth.jwt, auth.oidc, or auth.anonymous: true)' });
  }
  if (a.basic && !a.basic.usersFile && !a.basic.htpasswdFile) problems.push({ path: ['auth', 'basic'], message: 'needs usersFile or htpasswdFile' });
  if (a.jwt && !a.jwt.jwks && a.jwt.issuers.length === 0) problems.push({ path: ['auth', 'jwt'], message: 'needs jwks or issuers' });
  return problems;
}

export function normalizePrefix(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}
