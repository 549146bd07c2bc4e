// Two Prometheus "clusters" behind one gateway, as the multi-cluster browser tests run them: east and west scrape
// the same exposition (every tenant's data) under their own job names, each with its external URL under the
// gateway's /clusters/<name>/prometheus/. And the gateway's access lines, which those tests read.
import { startExposition, type ExpositionServer } from './exposition.js';
import { startPrometheus, type PrometheusOptions, type PrometheusInstance } from './prometheus.js';
import type { PromgateProc } from './promgate.js';
import { waitFor } from '../../helpers/wait.js';

export interface Clusters {
  expo: ExpositionServer;
  east: PrometheusInstance;
  west: PrometheusInstance;
  stop(): Promise<void>;
}

type ClusterOptions = Omit<PrometheusOptions, 'expo' | 'jobName' | 'externalUrl'>;

/** `origin` is the gateway's (known before it starts: reservePort); `each` and `west` add options to both / to west. */
export async function startClusters(
  origin: string,
  each: ClusterOptions = {},
  west: ClusterOptions = {},
): Promise<Clusters> {
  const expo = await startExposition();
  const start = (name: string, extra: ClusterOptions) =>
    startPrometheus({ ...each, ...extra, expo, jobName: name, externalUrl: `${origin}/clusters/${name}/prometheus/` });
  const started = await Promise.allSettled([start('east', {}), start('west', west)]);
  const stopAll = async () => {
    await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    await expo.stop();
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const [e, w] = started.map((s) => (s as PromiseFulfilledResult<PrometheusInstance>).value);
  return { expo, east: e!, west: w!, stop: stopAll };
}

/** One access-log line of the gateway (`msg: "request"`), the fields these tests read. */
export interface AccessLine {
  path: string;
  status: number;
  route?: string;
  tenant?: string;
  query?: string;
}

export const accessLines = (pg: PromgateProc): AccessLine[] =>
  pg.logLines().filter((l) => l.msg === 'request') as unknown as AccessLine[];

/**
 * Waits until the gateway has logged every API request a browser made under `prefix` (its URLs in `requests`)
 * since access line `logStart` (lines are written when a response closes), and returns those lines.
 */
export async function apiAccessLines(
  pg: PromgateProc,
  requests: readonly string[],
  prefix: string,
  logStart: number,
): Promise<AccessLine[]> {
  const api = requests.map((u) => new URL(u)).filter((u) => u.pathname.startsWith(`${prefix}/api/`));
  const pathOf = (u: URL) => decodeURIComponent(u.pathname);
  return waitFor(
    () => {
      const ls = accessLines(pg)
        .slice(logStart)
        .filter((l) => l.path.startsWith(`${prefix}/api/`));
      const short = api.some(
        (u) => ls.filter((l) => l.path === pathOf(u)).length < api.filter((x) => pathOf(x) === pathOf(u)).length,
      );
      return short ? undefined : ls;
    },
    { what: 'an access-log line for every API request of the page', procs: [pg.proc] },
  );
}
