// Upstreams chosen by identity: upstream.urls matched in order, templated URLs filled with DNS-label-safe values, pools kept in a bounded LRU.
import { LRUCache } from 'lru-cache';
import type { Identity } from '../authn/identity.js';
import type { UpstreamConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { URL_VOCAB } from '../config/templates.js';
import { applyFilters, checkTemplate, isTemplate, parseTemplate, type TemplateExpr } from '../lib/template.js';
import { claimAt, claimStrings } from '../tenancy/claims.js';
import { compileMatch } from '../tenancy/policy.js';
import type { Upstream } from './pool.js';

/**
 * The only values a template may put into a URL: one DNS label (RFC 1123), ASCII letters, digits and inner
 * hyphens, at most 63 characters, checked on the identity's value before any filter (so no Unicode case
 * mapping such as the Kelvin sign K → k can turn a refused value into an accepted one), then lowercased.
 * No ".", ":", "/", "@", "#", "%" or "?" can get through, so a value can never leave the label it stands in.
 */
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

const refused = (msg: string) => new GatewayError('PG_UPSTREAM_IDENTITY_REFUSED', msg);

type UrlFn = (id: Identity) => string;

function rawValue(e: TemplateExpr, id: Identity): string | undefined {
  switch (e.name) {
    case 'user':
      return id.user;
    case 'email':
      return id.email;
    case 'subject':
      return id.subject;
    default: {
      const v = claimAt(id.claims, e.path!);
      // A list claim names no single upstream.
      if (Array.isArray(v)) return undefined;
      return claimStrings(v)[0];
    }
  }
}

/** A fixed URL, or a template whose every value is checked as a DNS label; a refused value throws 403. */
export function compileUpstreamUrl(text: string): UrlFn {
  if (!isTemplate(text)) return () => text;
  const parts = parseTemplate(text);
  checkTemplate(parts, URL_VOCAB);
  return (id) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      const v = rawValue(p, id);
      if (v === undefined || v === '') throw refused(`the upstream URL needs ${p.source}, which this identity lacks`);
      if (!DNS_LABEL.test(v))
        throw refused(
          `${p.source} of this identity is not a DNS label (a-z, 0-9 and inner -, at most 63), so it cannot choose an upstream`,
        );
      out += String(applyFilters(v, p.filters)).toLowerCase();
    }
    return out;
  };
}

/** A templated URL with every placeholder as "unresolved": the shape of the URL, for a pool that is never dialled. */
export function placeholderUrl(text: string): string {
  return parseTemplate(text)
    .map((p) => (typeof p === 'string' ? p : 'unresolved'))
    .join('');
}

export interface UpstreamRouter {
  /** The upstream this identity goes to (403 PG_UPSTREAM_IDENTITY_REFUSED when its values cannot name one). */
  resolve(id: Identity): Upstream;
  /** Pools open for resolved templated URLs (bounded by maxPools). */
  readonly size: number;
  close(): Promise<void>;
}

/**
 * `urls` in order (first match wins), then `url` as the default. Fixed URLs get one pool each for the
 * router's life; templated ones share an LRU of at most `maxPools` pools, and an evicted pool is closed
 * gracefully (undici's close lets its running requests finish).
 */
export function createUpstreamRouter(
  cfg: UpstreamConfig,
  create: (url: string) => Upstream,
  defaultUpstream?: Upstream,
): UpstreamRouter {
  const entries = [
    ...cfg.urls.map((u) => ({
      matches: compileMatch(u.match),
      url: compileUpstreamUrl(u.url),
      fixed: !isTemplate(u.url),
    })),
    { matches: () => true, url: compileUpstreamUrl(cfg.url), fixed: !isTemplate(cfg.url) },
  ];
  const fixed = new Map<string, Upstream>();
  if (defaultUpstream) fixed.set(cfg.url, defaultUpstream);
  const dynamic = new LRUCache<string, Upstream>({
    max: cfg.maxPools,
    dispose: (up) => void up.close().catch(() => undefined),
  });
  return {
    resolve(id) {
      const e = entries.find((x) => x.matches(id))!;
      const url = e.url(id);
      if (e.fixed) {
        let up = fixed.get(url);
        if (!up) fixed.set(url, (up = create(url)));
        return up;
      }
      let up = dynamic.get(url);
      if (!up) dynamic.set(url, (up = create(url)));
      return up;
    },
    get size() {
      return dynamic.size;
    },
    async close() {
      // Clearing disposes (closes) the templated pools; the fixed ones other than the shared default close here.
      dynamic.clear();
      await Promise.allSettled([...fixed.values()].filter((u) => u !== defaultUpstream).map((u) => u.close()));
    },
  };
}
