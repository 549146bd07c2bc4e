// The combined e2e fixture: exposition server + Alertmanager + Prometheus, wired and waited for.
import { startAlertmanager, waitForAlertmanagerAlerts, type AlertmanagerInstance } from './alertmanager.js';
import { startExposition, type ExpositionServer } from './exposition.js';
import { startPrometheus, type PrometheusInstance } from './prometheus.js';

export interface StackOptions {
  /** Also start Alertmanager and have Prometheus send alerts to it (default false). */
  alertmanager?: boolean;
  /** Number of bench_series series in the exposition (default 0). */
  benchSeries?: number;
  /** Serve Prometheus under this path prefix, e.g. '/prometheus'. */
  routePrefix?: string;
  timeoutMs?: number;
}

export interface Stack {
  prom: PrometheusInstance;
  am?: AlertmanagerInstance;
  expo: ExpositionServer;
  /** Stops everything that was started; safe to call twice. */
  stop(): Promise<void>;
}

async function stopAll(parts: readonly ({ stop(): Promise<void> } | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(parts.map((p) => p?.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  let expo: ExpositionServer | undefined;
  let am: AlertmanagerInstance | undefined;
  let prom: PrometheusInstance | undefined;
  try {
    const [e, a] = await Promise.all([
      startExposition({ benchSeries: opts.benchSeries }),
      opts.alertmanager ? startAlertmanager({ timeoutMs: opts.timeoutMs }) : Promise.resolve(undefined),
    ]);
    expo = e;
    am = a;
    prom = await startPrometheus({
      expo,
      alertmanagerUrl: am?.url,
      routePrefix: opts.routePrefix,
      timeoutMs: opts.timeoutMs,
    });
    if (am) await waitForAlertmanagerAlerts(am, opts.timeoutMs);
  } catch (err) {
    // Stop in reverse order of dependency; the original error is what the test needs to see.
    await stopAll([prom, am, expo]).catch(() => undefined);
    throw err;
  }
  let stopped: Promise<void> | undefined;
  const parts = { prom, am, expo };
  return {
    ...parts,
    stop: () => (stopped ??= stopAll([parts.prom, parts.am]).then(() => parts.expo.stop())),
  };
}
