// Scenario h's upstream: a second real Prometheus loading a generated file of thousands of rules (the harness loads fixed rules only).
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { makeTempDir } from '../test/e2e/harness/cleanup.js';
import { TENANTS } from '../test/e2e/harness/data.js';
import type { ExpositionServer } from '../test/e2e/harness/exposition.js';
import { httpStatus, promApi } from '../test/e2e/harness/http.js';
import { withFreePort } from '../test/e2e/harness/ports.js';
import { PROMETHEUS_BIN } from '../test/e2e/harness/prometheus.js';
import { spawnProc, type Proc } from '../test/e2e/harness/procs.js';
import { waitFor } from '../test/e2e/harness/wait.js';

export interface RulesPrometheus {
  url: string;
  proc: Proc;
  alerts: number;
  stop(): Promise<void>;
}

/**
 * `count` rules in groups of 10: even rules alert (one firing alert each, in the namespace of the group),
 * odd rules record. Each group evaluates every 2 s, so every alert fires within seconds of the start.
 */
export function manyRulesYaml(count: number): string {
  const groups: unknown[] = [];
  for (let g = 0; g * 10 < count; g++) {
    const ns = TENANTS[g % TENANTS.length]!;
    const rules: unknown[] = [];
    for (let r = 0; r < 10 && g * 10 + r < count; r++) {
      const i = g * 10 + r;
      rules.push(
        r % 2 === 0
          ? {
              alert: `BenchAlert${i}`,
              expr: `tenant_info{namespace="${ns}"} > 0`,
              for: '0s',
              labels: { severity: 'warning' },
              annotations: { summary: `bench alert ${i} in {{ $labels.namespace }}` },
            }
          : { record: `bench:tenant_info:${i}`, expr: `sum by (namespace) (tenant_info{namespace="${ns}"})` },
      );
    }
    groups.push({ name: `bench-${g}`, interval: '2s', rules });
  }
  return stringify({ groups });
}

export async function startRulesPrometheus(expo: ExpositionServer, count: number): Promise<RulesPrometheus> {
  const dir = makeTempDir('bench-rules');
  writeFileSync(dir.file('rules.yml'), manyRulesYaml(count));
  const metricsPath = '/metrics/bench-rules';
  writeFileSync(
    dir.file('prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '2s' },
      rule_files: [dir.file('rules.yml')],
      scrape_configs: [
        {
          job_name: 'tenants',
          honor_labels: true,
          metrics_path: metricsPath,
          static_configs: [{ targets: [expo.target] }],
        },
      ],
    }),
  );
  const { url, proc } = await withFreePort(async (port) => {
    const proc = spawnProc(`prometheus-rules:${port}`, PROMETHEUS_BIN, [
      `--config.file=${dir.file('prometheus.yml')}`,
      `--storage.tsdb.path=${dir.file('data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await httpStatus(`${url}/-/ready`)) === 200, {
      what: 'rules prometheus ready',
      timeoutMs: 30_000,
      procs: [proc],
    });
    return { url, proc };
  });
  const want = Math.ceil(count / 2);
  const alerts = await waitFor(
    async () => {
      const d = await promApi<{ alerts: unknown[] }>(url, '/api/v1/alerts');
      return d.alerts.length >= want ? d.alerts.length : 0;
    },
    { what: `${want} firing alerts`, timeoutMs: 60_000, intervalMs: 500, procs: [proc] },
  );
  return {
    url,
    proc,
    alerts,
    stop: async () => {
      await proc.stop();
      dir.remove();
    },
  };
}
