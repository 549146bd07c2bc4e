// The Prometheus rule groups the e2e stack loads: per-tenant, static-label and infrastructure rules.
import { stringify } from 'yaml';

/** Names tests can assert on. Groups: tenant-recording, tenant-alerts, infra. */
export const RULES = {
  groups: ['tenant-recording', 'tenant-alerts', 'infra'] as const,
  /** sum by (namespace) (rate(http_requests_total[1m])); one series per tenant, ≈ 33·k per second. */
  rate1m: 'namespace:http_requests:rate1m',
  /** vector(1) with static label namespace="team-b": belongs to team-b only. */
  teamBStatic: 'team_b:static_marker',
  /** sum(rate(node_cpu_seconds_total[1m])): infrastructure, no namespace label. */
  infraRecording: 'cluster:node_cpu_seconds:rate1m',
  /** Fires once per tenant (labels namespace, severity="warning"). */
  highErrorRate: 'HighErrorRate',
  /** Fires once with static label namespace="team-a" (severity="info"). */
  teamAStatic: 'TeamAStatic',
  /** Fires once with no namespace label (severity="critical"). */
  infraCpu: 'InfraCPU',
} as const;

export function rulesYaml(): string {
  return stringify({
    groups: [
      {
        name: 'tenant-recording',
        interval: '1s',
        rules: [
          { record: RULES.rate1m, expr: 'sum by (namespace) (rate(http_requests_total[1m]))' },
          { record: RULES.teamBStatic, expr: 'vector(1)', labels: { namespace: 'team-b' } },
        ],
      },
      {
        name: 'tenant-alerts',
        interval: '1s',
        rules: [
          {
            alert: RULES.highErrorRate,
            expr: 'sum by (namespace) (http_requests_total{code="500"}) > 0',
            for: '0s',
            labels: { severity: 'warning' },
            annotations: { summary: '{{ $labels.namespace }} serves 500s' },
          },
          {
            alert: RULES.teamAStatic,
            expr: 'vector(1)',
            for: '0s',
            labels: { namespace: 'team-a', severity: 'info' },
            annotations: { summary: 'always firing, owned by team-a through a static label' },
          },
        ],
      },
      {
        name: 'infra',
        interval: '1s',
        rules: [
          { record: RULES.infraRecording, expr: 'sum(rate(node_cpu_seconds_total[1m]))' },
          {
            alert: RULES.infraCpu,
            expr: 'sum(node_cpu_seconds_total) > 0',
            for: '0s',
            labels: { severity: 'critical' },
            annotations: { summary: 'shared infrastructure; no tenant may see this' },
          },
        ],
      },
    ],
  });
}
