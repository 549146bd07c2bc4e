// What building a runtime would refuse, found without building one: `check` and `run` load configs through this alike.
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { Config } from '../config/schema.js';
import { basicFileProblems } from '../authn/basic.js';
import { checkJwks } from '../authn/jwks-check.js';
import { FileConfigError } from '../authn/reloadable.js';
import { cookieSecretProblems } from '../authn/session/secret.js';
import { clientSecretOf } from '../authn/oidc/client-secret.js';
import { parseExtraJwtIssuers } from '../authn/oidc/extra-issuers.js';
import { tenantRuleProblems } from '../tenancy/policy.js';
import { createTenantHeader } from '../tenancy/tenant-header.js';
import { tlsFilesProblem } from '../upstream/tls.js';
import { compileDirectives } from '../upstream/directives.js';
import { tenantHeaderTemplate } from '../config/derived.js';

/**
 * Every problem the factories of buildRuntime would throw, each at its key path. It calls the same parsers
 * and compilers they use (templates, cookie secrets, users files, JWKS files, TLS files), and opens no
 * socket, watcher or timer. buildRuntime runs it too, so a build refuses with all of them at once.
 */
export function preflight(cfg: Config): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const attempt = (path: (string | number)[], fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof ConfigError && e.issues.length > 0) out.push(...e.issues);
      else out.push({ path, message: e instanceof FileConfigError ? e.problems.join('; ') : (e as Error).message });
    }
  };
  cfg.tenants.rules.forEach((r, i) => out.push(...tenantRuleProblems(r, i)));
  cfg.routes.forEach((r, i) => {
    const th = r.upstream.tenantHeader;
    const at = ['routes', i, 'upstream', 'tenantHeader', 'template'];
    if (th) attempt(at, () => createTenantHeader({ ...th, template: tenantHeaderTemplate(cfg, r) }, at));
    r.tenants?.rules?.forEach((rule, n) => out.push(...tenantRuleProblems(rule, n, ['routes', i, 'tenants', 'rules'])));
    // Header directives: files read, promgate's own cookie refused (the vocabulary is checked by the schema).
    attempt(['routes', i, 'headers'], () =>
      compileDirectives(r, i, { env: process.env, sessionCookie: cfg.auth.oidc?.cookie.name }),
    );
    const tls = r.upstream.tls;
    // Unreadable files are already named by the semantic check, key by key.
    const readable = tls && ['caFile', 'certFile', 'keyFile'].every((k) => canRead(tls[k as 'caFile']));
    const problem = tls && readable ? tlsFilesProblem(tls) : undefined;
    if (problem !== undefined) out.push({ path: ['routes', i, 'upstream', 'tls'], message: problem });
  });
  const stls = cfg.server.tls;
  if (stls) {
    let readable = true;
    for (const key of ['certFile', 'keyFile', 'clientCaFile'] as const) {
      const f = stls[key];
      if (f !== undefined && !canRead(f)) {
        readable = false;
        out.push({ path: ['server', 'tls', key], message: `cannot read "${f}"` });
      }
    }
    // The same reading as the listener's (src/server/tls.ts): PEM that parses, a key of the certificate.
    const files = {
      certFile: stls.certFile,
      keyFile: stls.keyFile,
      caFile: stls.clientCaFile,
      insecureSkipVerify: false,
    };
    const problem = readable ? tlsFilesProblem(files) : undefined;
    if (problem !== undefined) out.push({ path: ['server', 'tls'], message: problem });
  }
  const { basic, jwt, oidc } = cfg.auth;
  if (basic) out.push(...basicFileProblems(basic));
  if (jwt) {
    const local = (loc: string | undefined) => loc !== undefined && !/^https?:\/\//i.test(loc);
    const jwks = (loc: string, path: (string | number)[]) =>
      attempt(path, () => checkJwks(JSON.parse(readFileSync(loc, 'utf8')), loc, () => undefined));
    if (local(jwt.jwks)) jwks(jwt.jwks!, ['auth', 'jwt', 'jwks']);
    jwt.issuers.forEach((iss, n) => local(iss.jwks) && jwks(iss.jwks, ['auth', 'jwt', 'issuers', n, 'jwks']));
  }
  if (oidc) {
    out.push(...cookieSecretProblems(oidc.cookie.secret ?? []));
    attempt(['auth', 'oidc', 'clientSecret'], () => clientSecretOf(oidc));
    attempt(['auth', 'oidc', 'extraJwtIssuers'], () => parseExtraJwtIssuers(oidc.extraJwtIssuers));
    if (oidc.sessionStore === 'redis' && !oidc.redisUrl)
      out.push({ path: ['auth', 'oidc', 'redisUrl'], message: 'is required with sessionStore: redis' });
  }
  return out;
}

function canRead(file: string | undefined): boolean {
  if (file === undefined) return true;
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}
