// The route table: which configured route owns a path, and the per-route settings compiled once.
import type { RouteConfig } from '../config/schema.js';
import { normalizePrefix, routeNameOf } from '../config/derived.js';
import type { UpstreamKind } from '../enforce/endpoints.js';
import { DotModeState } from './dot-mode.js';
import type { Upstream } from '../upstream/pool.js';
import { ResultsCache } from '../upstream/results-cache.js';
import { firstReplacer } from '../lib/re2.js';

export interface CompiledRoute {
  readonly name: string;
  /** Normalized prefix without trailing slash ('/' for the root route). */
  readonly prefix: string;
  readonly cfg: RouteConfig;
  readonly kind: UpstreamKind;
  readonly upstream: Upstream;
  readonly unprotected: ReadonlySet<string>;
  readonly protectedExact: ReadonlySet<string>;
  readonly protectedPrefixes: readonly string[];
  readonly passthrough: ReadonlySet<string>;
  /** How the backend reads "." in label regexes; the response filters evaluate tenant regexes the same way. */
  readonly dotMode: DotModeState;
  /** Present when the route turns the results cache on (a reload starts it empty). */
  readonly resultsCache?: ResultsCache;
  /** The route's `methods`, when it limits them (others get 405). */
  readonly methods?: ReadonlySet<string>;
  /** The upstream sees the path below the prefix (default), or the whole path. */
  readonly stripPrefix: boolean;
  /** The route's `rewrite` on the decoded path below the prefix, before the endpoint table reads it. */
  readonly rewrite?: (rel: string) => string;
}

export function compileRoute(
  cfg: RouteConfig,
  upstream: Upstream,
  onCacheLookup?: (hit: boolean) => void,
): CompiledRoute {
  const prefix = normalizePrefix(cfg.prefix);
  const t = cfg.upstream.type;
  const kind: UpstreamKind = t === 'alertmanager' || t === 'victoriametrics' ? t : 'prometheus';
  return {
    name: routeNameOf(cfg),
    prefix,
    cfg,
    kind,
    upstream,
    unprotected: new Set(cfg.unprotectedPaths),
    protectedExact: new Set(cfg.protectedPaths.filter((p) => !p.endsWith('/'))),
    protectedPrefixes: cfg.protectedPaths.filter((p) => p.endsWith('/')),
    passthrough: new Set(cfg.unsafePassthroughPaths),
    dotMode: new DotModeState(cfg.upstream),
    methods: cfg.methods ? new Set(cfg.methods) : undefined,
    stripPrefix: cfg.stripPrefix ?? true,
    rewrite: cfg.rewrite ? firstReplacer(cfg.rewrite.regex, cfg.rewrite.replacement) : undefined,
    resultsCache:
      cfg.resultsCache.ttl > 0 && kind !== 'alertmanager'
        ? new ResultsCache(
            { ...cfg.resultsCache, instantAlign: cfg.resultsCache.instantAlign ?? cfg.resultsCache.ttl },
            onCacheLookup,
          )
        : undefined,
  };
}

export interface RouteMatch<R extends CompiledRoute = CompiledRoute> {
  route: R;
  /** Path below the route prefix, always starting with '/'. */
  rel: string;
}

export class RouteTable<R extends CompiledRoute = CompiledRoute> {
  private readonly routes: R[];
  constructor(routes: readonly R[]) {
    // Longest prefix wins; '/' last.
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }
  all(): readonly R[] {
    return this.routes;
  }
  match(path: string): RouteMatch<R> | undefined {
    for (const route of this.routes) {
      const p = route.prefix;
      if (p === '/') return { route, rel: path };
      if (path === p) return { route, rel: '/' };
      if (path.startsWith(p) && path.charCodeAt(p.length) === 47 /* / */) return { route, rel: path.slice(p.length) };
    }
    return undefined;
  }
}

export function isProtectedPath(route: CompiledRoute, path: string): boolean {
  if (route.protectedExact.size === 0 && route.protectedPrefixes.length === 0) return true;
  if (route.protectedExact.has(path)) return true;
  return route.protectedPrefixes.some((p) => path.startsWith(p));
}
