// Which reading of "." a route's backend applies to label regexes: fixed by config, or learned from its build info.
import type { UpstreamConfig } from '../config/schema.js';
import type { DotMode } from '../lib/re2.js';

/**
 * The dot mode a Prometheus build info `version` implies: Prometheus 3.0 made `.` match "\n"
 * (model/labels/regexp.go: syntax.DotNL and `^(?s:…)$`); 2.x compiles `^(?:…)$`. Anything that is not
 * a plain `major.minor…` version is unknown.
 */
export function dotModeOfVersion(version: unknown): DotMode {
  if (typeof version !== 'string') return 'unknown';
  const m = /^v?(\d{1,4})\.\d/.exec(version);
  if (!m) return 'unknown';
  const major = Number(m[1]);
  if (major >= 3) return 'dotall';
  return major >= 1 ? 'plain' : 'unknown';
}

/** A route's current dot mode, and whether readiness checks should ask the upstream for it. */
export class DotModeState {
  /** True when the mode is learned from `/api/v1/status/buildinfo` (type prometheus, regexDotAll: auto). */
  readonly probes: boolean;
  private mode: DotMode;
  private last: DotMode | undefined;

  constructor(upstream: Pick<UpstreamConfig, 'type' | 'regexDotAll'>) {
    const s = upstream.regexDotAll;
    this.probes = s === 'auto' && upstream.type === 'prometheus';
    if (s === true) this.mode = 'dotall';
    else if (s === false) this.mode = 'plain';
    // Alertmanager compiles matcher regexes `^(?:…)$` at every version (pkg/labels/matcher.go). Thanos
    // and Mimir report their own version, not that of the Prometheus library they embed: unknown.
    // VictoriaMetrics reads "." both ways (its fast paths for `.*`, `prefix.*`, … match "\n"): unknown,
    // and the config check (semantics.ts) refuses a fixed regexDotAll for it.
    else this.mode = upstream.type === 'alertmanager' ? 'plain' : 'unknown';
  }

  current(): DotMode {
    return this.mode;
  }

  /**
   * One probe's answer (`unknown` when it failed). The first answer is taken as it is; after that a
   * change is believed only once two probes in a row agree, and the mode is `unknown` in between, so
   * replicas of different versions behind one URL (a rolling upgrade) make the filters show less.
   */
  observe(seen: DotMode): void {
    if (!this.probes) return;
    this.mode = this.last === undefined || seen === this.last ? seen : 'unknown';
    this.last = seen;
  }
}
