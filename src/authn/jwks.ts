// JSON Web Key Sets from a file (reloaded on change) or a URL (refreshed in the background), HMAC keys included.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type CompactJWSHeaderParameters,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWK,
  type KeyObject,
} from 'jose';
import { GatewayError } from '../errors.js';
import { createReloadableFile, FileConfigError, type ReloadableFile, type SourceDeps } from './reloadable.js';
import { checkJwks, isHmacAlg, type OctKeys } from './jwks-check.js';

export type VerifyKey = CryptoKey | KeyObject | JWK | Uint8Array;

export interface KeySet {
  readonly source: string;
  /** False until a URL set has been fetched once. */
  ready(): boolean;
  /** The key for a header whose kid and alg the caller has already checked. */
  getKey(header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<VerifyKey>;
  reload(): Promise<void>;
  close(): void;
}

export interface KeySetOptions {
  timeoutMs: number;
  /** Least time between fetches caused by unknown kids. */
  cooldownMs: number;
  /** How often a URL set is re-fetched in the background (0: never; unknown kids still trigger a fetch). */
  refreshMs: number;
  /** Start retry delay after a failed first fetch, doubled up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Called whenever the keys change (the token cache must forget tokens verified with old keys). */
  onChange: () => void;
}

interface Parsed {
  asym: ReturnType<typeof createLocalJWKSet>;
  oct: OctKeys;
}

/** Validate a JWKS document up front, so that a bad key is a load error rather than a per-request surprise. */
export function parseJwks(json: unknown, where: string, warn: (msg: string) => void): Parsed {
  const { asymKeys, oct } = checkJwks(json, where, warn);
  return { asym: createLocalJWKSet({ keys: asymKeys }), oct };
}

/** Pick the key: HMAC algs only from oct keys, the rest through jose (which matches kty, crv, alg, use). */
async function resolveKey(
  keys: Parsed,
  header: CompactJWSHeaderParameters,
  token: FlattenedJWSInput,
): Promise<VerifyKey> {
  if (!isHmacAlg(header.alg)) return keys.asym(header, token);
  const k = keys.oct.get(header.kid ?? '')?.find((x) => x.alg === undefined || x.alg === header.alg)?.key;
  if (!k) throw new errors.JWKSNoMatchingKey();
  return k;
}

export function createKeySet(location: string, source: string, opts: KeySetOptions, deps: SourceDeps): KeySet {
  const warn = (msg: string): void => deps.logger.warn({ source }, msg);
  return /^https?:\/\//i.test(location)
    ? remoteKeySet(location, source, opts, deps, warn)
    : fileKeySet(location, source, opts, deps, warn);
}

function fileKeySet(
  path: string,
  source: string,
  opts: KeySetOptions,
  deps: SourceDeps,
  warn: (m: string) => void,
): KeySet {
  const file: ReloadableFile<Parsed> = createReloadableFile({
    source,
    path,
    deps,
    parse(text) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new FileConfigError([`${path}: not JSON: ${(e as Error).message}`]);
      }
      return parseJwks(json, path, warn);
    },
    commit: () => opts.onChange(),
  });
  return {
    source,
    ready: () => true,
    getKey: (header, token) => resolveKey(file.current(), header, token),
    reload: async () => void (await file.reload()),
    close: () => file.close(),
  };
}

/**
 * The last valid key set fetched from each URL in this process. A config reload builds new key sets; they
 * start from these keys (public keys: nothing secret is kept) and refresh in the background, so a reload
 * neither refuses tokens until the next fetch nor loses good keys while the key server is down.
 */
const lastGood = new Map<string, Parsed>();

function remoteKeySet(
  url: string,
  source: string,
  opts: KeySetOptions,
  deps: SourceDeps,
  warn: (m: string) => void,
): KeySet {
  // jose only fetches (timeout, redirects refused, JSON checks); the keys we verify with are our own
  // validated copy, swapped only when a fetched set is valid. Refreshes run in the background: jose's
  // own staleness check would re-fetch on the request path and fail every request while the key
  // server is down, so its cacheMaxAge is infinite and a failed refresh keeps the last good set.
  const remote = createRemoteJWKSet(new URL(url), {
    timeoutDuration: Math.round(opts.timeoutMs),
    cooldownDuration: opts.cooldownMs,
    cacheMaxAge: Number.POSITIVE_INFINITY,
  });
  let keys: Parsed | undefined = lastGood.get(url);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let retry = opts.retryMs ?? 1000;
  let lastAttempt = 0;
  const now = deps.now ?? Date.now;

  let inflight: Promise<boolean> | undefined;
  /** Concurrent callers share one fetch. */
  function fetchNow(): Promise<boolean> {
    return (inflight ??= fetchOnce().finally(() => (inflight = undefined)));
  }
  async function fetchOnce(): Promise<boolean> {
    lastAttempt = now();
    try {
      await remote.reload();
      const next = parseJwks(remote.jwks(), url, warn);
      if (!keys) deps.logger.info({ source, url }, 'JWKS loaded');
      keys = next;
      lastGood.set(url, next);
      retry = opts.retryMs ?? 1000;
      opts.onChange();
      deps.onReload?.(source, true);
      return true;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      deps.logger.error(
        { source, url, err },
        keys ? 'JWKS refresh failed; keeping the last good keys' : 'JWKS not loaded yet; retrying',
      );
      deps.onReload?.(source, false, reason);
      return false;
    }
  }

  function cycle(): void {
    void fetchNow().then((ok) => {
      // refreshMs 0: no periodic refresh (unknown kids and reload() still fetch).
      if (ok || keys) return opts.refreshMs > 0 ? schedule(opts.refreshMs) : undefined;
      retry = Math.min(retry * 2, opts.maxRetryMs ?? 30_000);
      schedule(retry);
    });
  }
  function schedule(ms: number): void {
    if (closed) return;
    timer = setTimeout(cycle, ms);
    timer.unref();
  }
  // The first fetch starts now, so a request arriving right after start-up waits for it (getKey) instead of
  // being refused before the fetch has even begun.
  cycle();

  return {
    source,
    ready: () => keys !== undefined,
    async getKey(header, token) {
      // Right after start-up the first fetch may still be running: wait for it rather than refuse.
      if (!keys && inflight) await inflight;
      if (!keys) throw new GatewayError('PG_AUTHN_UNAVAILABLE', 'token keys are not loaded yet');
      try {
        return await resolveKey(keys, header, token);
      } catch (err) {
        // Unknown kid: the issuer may have rotated keys. Re-fetch, at most once per cooldown, so a
        // stream of made-up kids cannot turn into a stream of fetches.
        if (!(err instanceof errors.JWKSNoMatchingKey) || now() - lastAttempt < opts.cooldownMs || !(await fetchNow()))
          throw err;
        return resolveKey(keys, header, token);
      }
    },
    reload: async () => void (await fetchNow()),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
