// Checks that span several keys (duplicate route prefixes, CIDRs, port clashes) after the schema has passed.
import type { Config } from './schema.js';
import { accessSync, constants } from 'node:fs';
import { createProxyTrust } from '../lib/trusted-proxies.js';
import { awsRegion, azureProblems } from './cloud-auth.js';
import type { QueryLimitsConfig } from './schema-limits.js';
import {
  headerNamePattern,
  identityRouted,
  limitsRedisUrl,
  normalizePrefix,
  portalPaths,
  routeNameOf,
} from './derived.js';

export type { ConfigIssue as SemanticProblem } from './errors.js';
import type { ConfigIssue as SemanticProblem } from './errors.js';

/** `env` supplies AWS_REGION and the AZURE_* variables that may complete an upstream's credentials. */
export function validateSemantics(cfg: Config, env: NodeJS.ProcessEnv = {}): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  problems.push(...prefixProblems(cfg.routes));
  cfg.routes.forEach((r, i) => {
    if (r.apiPrefix !== '' && (!r.apiPrefix.startsWith('/') || r.apiPrefix.endsWith('/'))) {
      problems.push({
        path: ['routes', i, 'apiPrefix'],
        message: 'must start with / and not end with / (e.g. /prometheus)',
      });
    }
    problems.push(...frontDoorProblems(r, i));
    const up = r.upstream.auth;
    if (up.type === 'bearer' && !up.token && !up.tokenFile)
      problems.push({ path: ['routes', i, 'upstream', 'auth'], message: 'bearer needs token or tokenFile' });
    const at = (...k: (string | number)[]) => ['routes', i, 'upstream', ...k];
    if (up.type === 'aws' && !awsRegion(up, env))
      problems.push({
        path: at('auth', 'region'),
        message: 'aws signing needs a region: set region, or AWS_REGION / AWS_DEFAULT_REGION',
      });
    if (up.type === 'azure')
      for (const p of azureProblems(up, env)) problems.push({ path: at('auth', p.key), message: p.message });
    // VictoriaMetrics compiles label regexes `^(…)$` without (?s), but its fast paths for `.*`, `.+`,
    // `prefix.*`, `.*suffix` and `.*middle.*` match any byte (lib/storage/tag_filters.go): neither reading.
    if (r.upstream.type === 'victoriametrics' && r.upstream.regexDotAll !== 'auto')
      problems.push({
        path: at('regexDotAll'),
        message:
          'must be auto for type victoriametrics: it reads "." as matching a newline in some regexes and not in others',
      });
    // Two things would want the Authorization header: the caller's token and the service credential.
    if (up.type !== 'none' && up.type !== 'passthrough' && cfg.auth.oidc?.passAuthorizationHeader) {
      problems.push({
        path: at('auth', 'type'),
        message: `auth.oidc.passAuthorizationHeader sends the caller's token in Authorization, which ${up.type} credentials replace; use upstream.auth type passthrough, or turn passAuthorizationHeader off`,
      });
    }
    const tls = r.upstream.tls;
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      const file = tls?.[key];
      if (file === undefined) continue;
      try {
        accessSync(file, constants.R_OK);
      } catch (e) {
        problems.push({
          path: at('tls', key),
          message: `cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        });
      }
    }
    if (tls && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      problems.push({
        path: at('tls', tls.certFile === undefined ? 'certFile' : 'keyFile'),
        message: 'mTLS needs both certFile and keyFile',
      });
    }
  });
  try {
    createProxyTrust(cfg.server.trustedProxies);
  } catch (e) {
    problems.push({ path: ['server', 'trustedProxies'], message: (e as Error).message });
  }
  if (cfg.server.metricsPort !== undefined && cfg.server.metricsPort === cfg.server.port) {
    problems.push({
      path: ['server', 'metricsPort'],
      message: 'must differ from server.port (leave it unset to serve /metrics on the main port)',
    });
  }
  const a = cfg.auth;
  if (cfg.routes.length === 0 && !a.oidc)
    problems.push({
      path: ['routes'],
      message: 'at least one route is needed (or auth.oidc, to serve only /oauth2/* forward auth)',
    });
  if (!a.basic && !a.jwt && !a.oidc && !a.anonymous && !cfg.server.tls?.clientCaFile) {
    problems.push({
      path: ['auth'],
      message:
        'no authentication method is configured (set auth.basic, auth.jwt, auth.oidc, server.tls.clientCaFile, or auth.anonymous: true)',
    });
  }
  if (a.basic && !a.basic.usersFile && !a.basic.htpasswdFile)
    problems.push({ path: ['auth', 'basic'], message: 'needs usersFile or htpasswdFile' });
  if (a.jwt && !a.jwt.jwks && a.jwt.issuers.length === 0)
    problems.push({ path: ['auth', 'jwt'], message: 'needs jwks or issuers' });
  problems.push(...limitProblems(cfg));
  problems.push(...portalProblems(cfg));
  return problems;
}

/**
 * The portal answers its two paths before any route, so it would hide whatever a route serves there: a portal
 * path equal to a route prefix, or to one of promgate's own endpoints, is refused.
 */
function portalProblems(cfg: Config): SemanticProblem[] {
  if (!cfg.portal) return [];
  const { page, json } = portalPaths(cfg.portal.path);
  const problems: SemanticProblem[] = [];
  const at = ['portal', 'path'];
  cfg.routes.forEach((r, i) => {
    const p = normalizePrefix(r.prefix);
    if (p === page || p === json)
      problems.push({
        path: at,
        message: `"${cfg.portal!.path}" collides with the prefix of routes[${i}] ("${r.prefix}"): the portal would hide that route's ${p === page ? 'page' : 'path'}; choose another portal.path (e.g. /portal)`,
      });
  });
  const own = ['/-/healthy', '/-/ready', cfg.server.metricsPath];
  const oauth = cfg.auth.oidc ? cfg.auth.oidc.proxyPrefix.replace(/\/+$/, '') : undefined;
  for (const p of [page, json]) {
    if (own.includes(p) || (oauth !== undefined && (p === oauth || p.startsWith(oauth + '/'))))
      problems.push({ path: at, message: `"${p}" is one of promgate's own endpoints` });
  }
  return problems;
}

function limitProblems(cfg: Config): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const l = cfg.limits;
  const names = new Set(cfg.routes.map(routeNameOf));
  if (l.redis && limitsRedisUrl(cfg) === undefined) {
    problems.push({
      path: ['limits', 'redis'],
      message: 'needs url (or auth.oidc.sessionStore: redis with redisUrl, whose Redis it then shares)',
    });
  } else if (l.redis) {
    const url = limitsRedisUrl(cfg)!;
    if (!/^rediss?:\/\/[^/]/.test(url))
      problems.push({ path: ['limits', 'redis', 'url'], message: `not a redis:// or rediss:// URL: "${url}"` });
  }
  // A maxQueryRange below the smallest step allowed leaves no query_range that could pass with two points.
  const stepCheck = (q: QueryLimitsConfig, at: (string | number)[], own: QueryLimitsConfig | undefined) => {
    const step = q.minStep ?? 1;
    if (q.maxQueryRange !== undefined && q.maxQueryRange < step) {
      const key = own?.maxQueryRange !== undefined || own?.minStep === undefined ? 'maxQueryRange' : 'minStep';
      problems.push({
        path: [...at, key],
        message: `maxQueryRange (${q.maxQueryRange} ms) is below the step (${q.minStep === undefined ? '1 ms, the smallest there is' : `minStep ${q.minStep} ms`}): every query_range would be refused`,
      });
    }
  };
  stepCheck(l.query, ['limits', 'query'], l.query);
  for (const [name, over] of Object.entries(l.routes)) {
    if (!names.has(name)) {
      problems.push({
        path: ['limits', 'routes', name],
        message: `names no route (known: ${[...names].join(', ') || 'none'})`,
      });
      continue;
    }
    if (over.query) stepCheck({ ...l.query, ...over.query }, ['limits', 'routes', name, 'query'], over.query);
  }
  cfg.tenants.rules.forEach((r, i) => {
    if (r.limits?.query)
      stepCheck({ ...l.query, ...r.limits.query }, ['tenants', 'rules', i, 'limits', 'query'], r.limits.query);
  });
  // A cost above the burst can never be paid: every such request would be refused.
  const costCheck = (
    rate: { burst: number; costs: Readonly<Record<string, number>> } | undefined,
    at: (string | number)[],
  ) => {
    if (!rate) return;
    for (const [path, cost] of Object.entries(rate.costs)) {
      if (cost > rate.burst)
        problems.push({
          path: [...at, 'costs', path],
          message: `cost ${cost} is above burst ${rate.burst}: every such request would be refused`,
        });
    }
  };
  costCheck(l.rate, ['limits', 'rate']);
  for (const [name, over] of Object.entries(l.routes)) costCheck(over.rate, ['limits', 'routes', name, 'rate']);
  return problems;
}

/**
 * Two routes with one prefix, and stripPrefix on the root route. Also run on the raw routes when the schema
 * refused something else (a route without an upstream), so every problem is listed at once.
 */
export function prefixProblems(routes: readonly { prefix?: unknown; stripPrefix?: unknown }[]): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  const prefixes = new Map<string, number>();
  routes.forEach((r, i) => {
    if (r === null || typeof r !== 'object') return;
    const raw = r.prefix ?? '/';
    if (typeof raw !== 'string') return;
    const p = normalizePrefix(raw);
    const prev = prefixes.get(p);
    if (prev !== undefined)
      out.push({ path: ['routes', i, 'prefix'], message: `prefix "${raw}" is already used by routes[${prev}]` });
    else prefixes.set(p, i);
    if (r.stripPrefix === true && p === '/')
      out.push({ path: ['routes', i, 'stripPrefix'], message: 'the route prefix is /, so there is nothing to strip' });
  });
  return out;
}

/** The front-door keys of route i that only make sense together with others. */
function frontDoorProblems(r: Config['routes'][number], i: number): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  const at = (...k: (string | number)[]) => ['routes', i, ...k];
  r.tenants?.rules?.forEach((rule, n) => {
    if (rule.limits)
      out.push({
        path: at('tenants', 'rules', n, 'limits'),
        message: 'limits belong to the global tenants.rules (a route tenant rule only decides the tenant)',
      });
  });
  if (identityRouted(r.upstream)) {
    if (r.resultsCache.ttl > 0)
      out.push({
        path: at('resultsCache', 'ttl'),
        message: 'a route whose upstream is chosen by identity cannot share cached answers between upstreams',
      });
    if (r.upstream.auth.type === 'aws')
      out.push({
        path: at('upstream', 'auth', 'type'),
        message: 'aws signing needs a fixed host; it cannot be used with an upstream chosen by identity',
      });
  }
  // The tenant header is enforcement on Mimir, Thanos and Cortex: no directive may set, add or remove it.
  const th = r.upstream.tenantHeader?.name.toLowerCase();
  const req = r.headers?.request;
  if (th && req) {
    for (const op of ['set', 'add'] as const)
      for (const name of Object.keys(req[op]))
        if (name.toLowerCase() === th)
          out.push({
            path: at('headers', 'request', op, name),
            message: `${name} is this route's tenant header, which only the tenant decides`,
          });
    req.remove.forEach((pattern, n) => {
      if (headerNamePattern(pattern)(th))
        out.push({
          path: at('headers', 'request', 'remove', n),
          message: `"${pattern}" would remove this route's tenant header, which only the tenant decides`,
        });
    });
  }
  const signs = !['none', 'passthrough'].includes(r.upstream.auth.type);
  for (const op of ['set', 'add'] as const)
    for (const name of Object.keys(r.headers?.request?.[op] ?? {}))
      if (signs && name.toLowerCase() === 'authorization')
        out.push({
          path: at('headers', 'request', op, name),
          message: `upstream.auth ${r.upstream.auth.type} sets Authorization when signing, which would replace this`,
        });
  return out;
}
