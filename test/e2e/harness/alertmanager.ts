// Starts a real Alertmanager (clustering off) on a free port, plus helpers for its v2 API.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { makeTempDir } from './cleanup.js';
import { TENANTS } from './data.js';
import { getJson, httpStatus, labelValues } from './http.js';
import { withFreePort } from './ports.js';
import { spawnProc, type Proc } from './procs.js';
import { waitFor } from '../../helpers/wait.js';

export const ALERTMANAGER_BIN = process.env.PROMGATE_E2E_ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager';

export interface AlertmanagerInstance {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly proc: Proc;
  logs(): string;
  stop(): Promise<void>;
}

/** An alert as /api/v2/alerts returns it (the fields tests use). */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
  fingerprint: string;
  startsAt: string;
  endsAt: string;
}

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex?: boolean;
  /** false means != / !~ (Alertmanager ≥ 0.22). Default true. */
  isEqual?: boolean;
}

const CONFIG = {
  route: {
    receiver: 'null',
    group_by: ['namespace', 'alertname'],
    group_wait: '0s',
    group_interval: '1s',
    repeat_interval: '1h',
  },
  receivers: [{ name: 'null' }],
};

export async function startAlertmanager(
  opts: { extraArgs?: string[]; timeoutMs?: number } = {},
): Promise<AlertmanagerInstance> {
  return withFreePort(async (port) => {
    const dir = makeTempDir('alertmanager');
    writeFileSync(dir.file('alertmanager.yml'), stringify(CONFIG));
    const args = [
      `--config.file=${dir.file('alertmanager.yml')}`,
      `--storage.path=${dir.file('data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // An empty address disables the gossip cluster (which would otherwise bind 0.0.0.0:9094).
      '--cluster.listen-address=',
      ...(opts.extraArgs ?? []),
    ];
    const proc = spawnProc(`alertmanager:${port}`, ALERTMANAGER_BIN, args);
    const url = `http://127.0.0.1:${port}`;
    const inst: AlertmanagerInstance = {
      url,
      port,
      dir: dir.path,
      proc,
      logs: () => proc.logs(),
      stop: async () => {
        await proc.stop();
        dir.remove();
      },
    };
    try {
      await waitFor(async () => (await httpStatus(`${url}/-/ready`)) === 200, {
        what: `alertmanager ${url}/-/ready`,
        timeoutMs: opts.timeoutMs ?? 20_000,
        procs: [proc],
      });
    } catch (err) {
      await inst.stop();
      throw err;
    }
    return inst;
  });
}

/** GET /api/v2/alerts with optional filter matchers (e.g. ['namespace="team-a"']). */
export function getAlerts(amUrl: string, filter: readonly string[] = []): Promise<AmAlert[]> {
  const qs = new URLSearchParams(filter.map((f): [string, string] => ['filter', f])).toString();
  return getJson<AmAlert[]>(`${amUrl}/api/v2/alerts${qs ? `?${qs}` : ''}`);
}

/** Waits until Alertmanager holds alerts from Prometheus for every tenant, and the InfraCPU alert. */
export async function waitForAlertmanagerAlerts(am: AlertmanagerInstance, timeoutMs = 20_000): Promise<AmAlert[]> {
  const all = [...TENANTS].sort().join(',');
  return waitFor(
    async () => {
      const alerts = await getAlerts(am.url);
      const ok =
        labelValues(alerts, 'namespace').join(',') === all && alerts.some((a) => a.labels.alertname === 'InfraCPU');
      return ok ? alerts : undefined;
    },
    { what: `alerts for all tenants at ${am.url}/api/v2/alerts`, timeoutMs, procs: [am.proc] },
  );
}

/** Creates a silence (default 1 h) and returns its id. `matchers` may be a plain {label: value} map. */
export async function createSilence(
  amUrl: string,
  matchers: readonly SilenceMatcher[] | Record<string, string>,
  opts: { durationMs?: number; createdBy?: string; comment?: string } = {},
): Promise<string> {
  const list: readonly SilenceMatcher[] = Array.isArray(matchers)
    ? (matchers as readonly SilenceMatcher[])
    : Object.entries(matchers as Record<string, string>).map(([name, value]) => ({ name, value }));
  const now = Date.now();
  const body = {
    matchers: list.map((m) => ({
      name: m.name,
      value: m.value,
      isRegex: m.isRegex ?? false,
      isEqual: m.isEqual ?? true,
    })),
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + (opts.durationMs ?? 3_600_000)).toISOString(),
    createdBy: opts.createdBy ?? 'promgate-e2e',
    comment: opts.comment ?? 'created by the e2e harness',
  };
  const res = await getJson<{ silenceID: string }>(`${amUrl}/api/v2/silences`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.silenceID;
}
