// Starts a real Prometheus on a free port, scraping the exposition server, with the e2e rules loaded.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { makeTempDir } from './cleanup.js';
import { TENANTS } from './data.js';
import type { ExpositionServer } from './exposition.js';
import { httpStatus, labelValues, promApi, promQuery } from './http.js';
import { withFreePort } from './ports.js';
import { spawnProc, type Proc } from './procs.js';
import { rulesYaml, RULES } from './rules.js';
import { waitFor } from '../../helpers/wait.js';

export const PROMETHEUS_BIN = process.env.PROMGATE_E2E_PROMETHEUS ?? '/usr/bin/prometheus';

export interface PrometheusOptions {
  expo: ExpositionServer;
  /** Alertmanager base URL (e.g. http://127.0.0.1:9093) to send alerts to. */
  alertmanagerUrl?: string;
  /**
   * Serve everything under this path, e.g. '/prometheus' (sets --web.route-prefix, and --web.external-url to this
   * server's own address under it unless externalUrl is given); '/' with externalUrl serves at the root.
   */
  routePrefix?: string;
  /**
   * The URL people reach this Prometheus at (a gateway's), e.g. http://127.0.0.1:9092/clusters/east/prometheus/:
   * alone, only --web.external-url is set, so Prometheus serves under its path by its own default --web.route-prefix.
   */
  externalUrl?: string;
  /** The prometheus binary (default PROMETHEUS_BIN, Debian's 2.42; e.g. a Prometheus 3 from scripts/prometheus3.sh). */
  bin?: string;
  /** Scrape job name (default 'tenants'). */
  jobName?: string;
  extraArgs?: string[];
  /** `global.external_labels`, e.g. `{cluster: 'east'}` (added to what it sends by remote_write). */
  externalLabels?: Record<string, string>;
  /** A `remote_write` URL (e.g. VictoriaMetrics' /api/v1/write); one shard, so samples arrive in time order. */
  remoteWriteUrl?: string;
  /** Wait for data, recording rules and alerts of all tenants (default true); otherwise only for /-/ready. */
  waitForData?: boolean;
  timeoutMs?: number;
}

export interface PrometheusInstance {
  /** Origin only, e.g. http://127.0.0.1:41234 — without the route prefix. */
  readonly url: string;
  /** url + routePrefix: the base for API calls, e.g. `${base}/api/v1/query`. */
  readonly base: string;
  readonly port: number;
  readonly routePrefix: string;
  readonly jobName: string;
  /** The exposition path this server scrapes; its own scrape counter. */
  readonly metricsPath: string;
  readonly dir: string;
  readonly proc: Proc;
  /** Times this Prometheus has scraped the exposition so far (n in data.ts is scrapes() - 1 for the latest). */
  scrapes(): number;
  logs(): string;
  stop(): Promise<void>;
}

function normalizePrefix(p: string | undefined): string {
  if (!p || p === '/') return '';
  return `/${p.replace(/^\/+|\/+$/g, '')}`;
}

function configYaml(o: PrometheusOptions, jobName: string, metricsPath: string, rulesFile: string): string {
  const cfg: Record<string, unknown> = {
    global: {
      scrape_interval: '1s',
      scrape_timeout: '1s',
      evaluation_interval: '1s',
      ...(o.externalLabels ? { external_labels: o.externalLabels } : {}),
    },
    rule_files: [rulesFile],
    scrape_configs: [
      {
        job_name: jobName,
        honor_labels: true,
        metrics_path: metricsPath,
        static_configs: [{ targets: [o.expo.target] }],
      },
    ],
  };
  if (o.remoteWriteUrl) {
    cfg.remote_write = [
      {
        url: o.remoteWriteUrl,
        queue_config: { max_shards: 1, min_shards: 1, batch_send_deadline: '500ms', min_backoff: '50ms' },
      },
    ];
  }
  if (o.alertmanagerUrl) {
    const am = new URL(o.alertmanagerUrl);
    cfg.alerting = {
      alertmanagers: [
        {
          api_version: 'v2',
          scheme: am.protocol.replace(':', ''),
          path_prefix: am.pathname === '/' ? '' : am.pathname,
          static_configs: [{ targets: [am.host] }],
        },
      ],
    };
  }
  return stringify(cfg);
}

/** Waits until every tenant has raw series, recording-rule output and a firing HighErrorRate alert. */
export async function waitForPrometheusData(p: PrometheusInstance, timeoutMs = 20_000): Promise<void> {
  const all = [...TENANTS].sort().join(',');
  const opts = { timeoutMs, procs: [p.proc] };
  await waitFor(async () => (await promQuery(p.base, `up{job="${p.jobName}"} == 1`)).length === 1, {
    ...opts,
    what: `up{job="${p.jobName}"} == 1`,
  });
  for (const q of ['http_requests_total', RULES.rate1m]) {
    await waitFor(async () => labelValues(await promQuery(p.base, q), 'namespace').join(',') === all, {
      ...opts,
      what: `${q} for all tenants`,
    });
  }
  await waitFor(
    async () => {
      const { alerts } = await promApi<{ alerts: { state: string; labels: Record<string, string> }[] }>(
        p.base,
        '/api/v1/alerts',
      );
      const firing = alerts.filter((a) => a.state === 'firing' && a.labels.alertname === RULES.highErrorRate);
      return labelValues(firing, 'namespace').join(',') === all;
    },
    { ...opts, what: 'firing HighErrorRate alerts for all tenants' },
  );
}

export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusInstance> {
  const routePrefix = normalizePrefix(
    o.routePrefix ?? (o.externalUrl !== undefined ? new URL(o.externalUrl).pathname : ''),
  );
  const jobName = o.jobName ?? 'tenants';
  const metricsPath = `/metrics/prom-${randomBytes(4).toString('hex')}`;
  const p = await withFreePort(async (port) => {
    const dir = makeTempDir('prometheus');
    writeFileSync(dir.file('rules.yml'), rulesYaml());
    writeFileSync(dir.file('prometheus.yml'), configYaml(o, jobName, metricsPath, dir.file('rules.yml')));
    const url = `http://127.0.0.1:${port}`;
    const args = [
      `--config.file=${dir.file('prometheus.yml')}`,
      `--storage.tsdb.path=${dir.file('data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-admin-api',
      '--web.enable-lifecycle',
      // Alerts that fire before Alertmanager is discovered are otherwise resent only after a minute.
      '--rules.alert.resend-delay=1s',
      ...(o.externalUrl !== undefined ? [`--web.external-url=${o.externalUrl}`] : []),
      ...(o.routePrefix !== undefined
        ? [
            ...(o.externalUrl === undefined ? [`--web.external-url=${url}${routePrefix}`] : []),
            `--web.route-prefix=${routePrefix || '/'}`,
          ]
        : []),
      ...(o.extraArgs ?? []),
    ];
    const proc = spawnProc(`prometheus:${port}`, o.bin ?? PROMETHEUS_BIN, args);
    const inst: PrometheusInstance = {
      url,
      base: url + routePrefix,
      port,
      routePrefix,
      jobName,
      metricsPath,
      dir: dir.path,
      proc,
      scrapes: () => o.expo.scrapes(metricsPath),
      logs: () => proc.logs(),
      stop: async () => {
        await proc.stop();
        dir.remove();
      },
    };
    try {
      await waitFor(async () => (await httpStatus(`${inst.base}/-/ready`)) === 200, {
        what: `prometheus ${inst.base}/-/ready`,
        timeoutMs: o.timeoutMs ?? 20_000,
        procs: [proc],
      });
    } catch (err) {
      await inst.stop();
      throw err;
    }
    return inst;
  });
  if (o.waitForData ?? true) {
    try {
      await waitForPrometheusData(p, o.timeoutMs);
    } catch (err) {
      await p.stop();
      throw err;
    }
  }
  return p;
}
