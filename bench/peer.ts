// Finds prom-label-proxy for the bench: PROM_LABEL_PROXY_BIN, the cached build, or (full runs only) a one-time `go install`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Pinned like helm in scripts/deploy-tools.sh: the newest release the Go module proxy served on 2026-12-03. */
export const PROM_LABEL_PROXY_VERSION = 'v0.11.1';

function cacheDir(): string {
  const base =
    process.env.PROMGATE_TOOLS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'promgate');
  return join(base, `prom-label-proxy-${PROM_LABEL_PROXY_VERSION}`);
}

/** The binary to run, or why there is none (printed, and the peer columns stay empty). */
export function findLabelProxy(quick: boolean, progress: (m: string) => void): { bin?: string; why?: string } {
  const env = process.env.PROM_LABEL_PROXY_BIN;
  if (env) return existsSync(env) ? { bin: env } : { why: `PROM_LABEL_PROXY_BIN=${env} does not exist` };
  const bin = join(cacheDir(), 'prom-label-proxy');
  if (existsSync(bin)) return { bin };
  if (quick) return { why: 'no cached prom-label-proxy, and --quick runs do not build one' };
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) return { why: 'no Go toolchain to build prom-label-proxy (set PROM_LABEL_PROXY_BIN)' };
  progress(`building prom-label-proxy ${PROM_LABEL_PROXY_VERSION} with ${go.stdout.trim()} into ${bin} (once; cached)`);
  mkdirSync(dirname(bin), { recursive: true });
  const r = spawnSync(
    'go',
    ['install', `github.com/prometheus-community/prom-label-proxy@${PROM_LABEL_PROXY_VERSION}`],
    { env: { ...process.env, GOBIN: dirname(bin), GOFLAGS: '-buildvcs=false' }, stdio: 'inherit', timeout: 600_000 },
  );
  return r.status === 0 && existsSync(bin) ? { bin } : { why: `go install prom-label-proxy failed (exit ${r.status})` };
}
