// A real single-node VictoriaMetrics on a free port, and the global-view stack: two Prometheus "clusters"
// (east, west) scraping the exposition and remote-writing into it, each with its own `cluster` external label.
import { makeTempDir } from './cleanup.js';
import { TENANTS } from './data.js';
import { startExposition, type ExpositionServer } from './exposition.js';
import { httpStatus, labelValues, promQuery } from './http.js';
import { withFreePort } from './ports.js';
import { startPrometheus, type PrometheusInstance } from './prometheus.js';
import { spawnProc, type Proc } from './procs.js';
import { waitFor } from '../../helpers/wait.js';

export const VICTORIA_BIN = process.env.PROMGATE_E2E_VICTORIA_METRICS ?? '/usr/bin/victoria-metrics';

export interface VictoriaInstance {
  /** Origin, e.g. http://127.0.0.1:41234; the Prometheus API is at `${url}/api/v1/…`. */
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  logs(): string;
  stop(): Promise<void>;
}

export async function startVictoriaMetrics(opts: { timeoutMs?: number } = {}): Promise<VictoriaInstance> {
  return withFreePort(async (port) => {
    const dir = makeTempDir('victoria');
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnProc(`victoria-metrics:${port}`, VICTORIA_BIN, [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dir.file('data')}`,
      '-retentionPeriod=1d',
      // Answers at "now" are not moved 30 s back, and nothing is served from the rollup cache, so an answer
      // depends on the samples stored and the query alone (the differential tests compare two of them).
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=WARN',
    ]);
    const inst: VictoriaInstance = {
      url,
      port,
      proc,
      logs: () => proc.logs(),
      stop: async () => {
        await proc.stop();
        dir.remove();
      },
    };
    try {
      await waitFor(
        async () => {
          if (proc.exited() && /address already in use/i.test(proc.logs())) throw new Error('address already in use');
          return (await httpStatus(`${url}/-/ready`)) === 200;
        },
        { what: `victoria-metrics ${url}/-/ready`, timeoutMs: opts.timeoutMs ?? 20_000, procs: [proc] },
      );
    } catch (err) {
      await inst.stop();
      throw err;
    }
    return inst;
  });
}

export const CLUSTERS = ['east', 'west'] as const;

export interface GlobalStack {
  vm: VictoriaInstance;
  expo: ExpositionServer;
  clusters: Record<(typeof CLUSTERS)[number], PrometheusInstance>;
  stop(): Promise<void>;
}

/**
 * VictoriaMetrics, then east and west, each scraping the exposition every second with `cluster` as an external
 * label and remote-writing into VictoriaMetrics; ready once VictoriaMetrics answers every tenant's raw and
 * recorded series from both clusters.
 */
export async function startGlobalStack(opts: { timeoutMs?: number } = {}): Promise<GlobalStack> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const vm = await startVictoriaMetrics(opts);
    started.push(vm);
    const expo = await startExposition();
    started.push(expo);
    const [east, west] = await Promise.all(
      CLUSTERS.map(async (cluster) => {
        const p = await startPrometheus({
          expo,
          jobName: 'tenants',
          externalLabels: { cluster },
          remoteWriteUrl: `${vm.url}/api/v1/write`,
          waitForData: false,
          timeoutMs: opts.timeoutMs,
        });
        started.push(p);
        return p;
      }),
    );
    const all = [...TENANTS].sort().join(',');
    for (const q of ['http_requests_total', 'namespace:http_requests:rate1m']) {
      for (const cluster of CLUSTERS) {
        await waitFor(
          async () => labelValues(await promQuery(vm.url, `${q}{cluster="${cluster}"}`), 'namespace').join(',') === all,
          {
            what: `${q} of every tenant from ${cluster} in VictoriaMetrics`,
            timeoutMs: opts.timeoutMs ?? 30_000,
            procs: [vm.proc, east!.proc, west!.proc],
          },
        );
      }
    }
    return {
      vm,
      expo,
      clusters: { east: east!, west: west! },
      stop: async () => {
        await Promise.allSettled([east!.stop(), west!.stop()]);
        await Promise.allSettled([vm.stop(), expo.stop()]);
      },
    };
  } catch (err) {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
    throw err;
  }
}
