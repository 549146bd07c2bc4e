// The demo's real backends: finds (or, as root, installs) Debian's Prometheus and Alertmanager and runs them on free loopback ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';

export interface Binaries {
  prometheus: string;
  alertmanager: string;
}

/** Debian package → the binary it installs; the paths can be overridden for tests. */
export function demoBinaries(env: NodeJS.ProcessEnv): Binaries {
  return {
    prometheus: env.PROMGATE_DEMO_PROMETHEUS ?? '/usr/bin/prometheus',
    alertmanager: env.PROMGATE_DEMO_ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager',
  };
}

const PACKAGES: Record<keyof Binaries, string> = { prometheus: 'prometheus', alertmanager: 'prometheus-alertmanager' };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export type EnsureResult = { ok: true } | { ok: false; message: string };

/**
 * Makes sure both binaries exist. Missing ones are installed with apt-get when running as root (as
 * scripts/ensure-deps.sh does for the tests); otherwise the answer is the exact command to run.
 */
export function ensureBinaries(bins: Binaries, env: NodeJS.ProcessEnv, log: (line: string) => void): EnsureResult {
  const missing = (Object.keys(bins) as (keyof Binaries)[]).filter((k) => !executable(bins[k])).map((k) => PACKAGES[k]);
  if (missing.length === 0) return { ok: true };
  const line = `sudo apt-get install -y ${missing.join(' ')}`;
  const aptGet = onPath('apt-get', env);
  if (process.getuid?.() !== 0 || !aptGet) {
    return {
      ok: false,
      message: `the demo runs Debian's ${missing.join(' and ')}, which are not installed.\nInstall them with:  ${line}\nthen run the demo again.`,
    };
  }
  log(`installing ${missing.join(' ')} with apt-get (running as root)…`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps = [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...missing],
  ];
  for (const args of steps) {
    const r = spawnSync(aptGet, args, { env: aptEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0)
      return {
        ok: false,
        message: `apt-get ${args[0]} failed (exit ${String(r.status)}).\nInstall them with:  ${line}`,
      };
  }
  // The Debian packages start their own services on the default ports; the demo runs its own copies.
  for (const svc of ['prometheus', 'prometheus-alertmanager', 'prometheus-node-exporter']) {
    for (const [cmd, args] of [
      ['systemctl', ['stop', svc]],
      ['service', [svc, 'stop']],
    ] as const) {
      const bin = onPath(cmd, env);
      if (bin) spawnSync(bin, [...args], { stdio: 'ignore' });
    }
  }
  const still = (Object.keys(bins) as (keyof Binaries)[]).filter((k) => !executable(bins[k]));
  if (still.length > 0)
    return {
      ok: false,
      message: `apt-get finished but ${still.map((k) => bins[k]).join(', ')} is still missing.\nInstall them with:  ${line}`,
    };
  return { ok: true };
}

/** A port that was free a moment ago (the backends take no port 0); a clash is retried by the caller. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Backend {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  isRunning(): boolean;
  /** Last lines of its log, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

function run(name: string, bin: string, args: string[], url: string, logFile: string): Backend {
  const fd = openSync(logFile, 'a');
  // Output goes to a file, so a backend can never stall on a pipe nobody reads.
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let running = child.pid !== undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running = false;
      resolve();
    });
    child.once('error', () => {
      running = false;
      resolve();
    });
  });
  return {
    name,
    url,
    child,
    logFile,
    exited,
    isRunning: () => running,
    tail: (n = 15) =>
      existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n') : '',
    async stop(graceMs = 10_000) {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function startAlertmanager(bin: string, dir: string, port: number): Backend {
  const config = {
    route: { receiver: 'null', group_by: ['namespace', 'alertname'], group_wait: '0s', group_interval: '5s' },
    receivers: [{ name: 'null' }],
  };
  writeFileSync(join(dir, 'alertmanager.yml'), stringify(config));
  return run(
    'alertmanager',
    bin,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Served under /alertmanager so the gateway's /alertmanager route and Alertmanager's own UI links agree.
      `--web.external-url=http://127.0.0.1:${port}/alertmanager`,
      '--web.route-prefix=/alertmanager',
      '--cluster.listen-address=',
    ],
    `http://127.0.0.1:${port}/alertmanager`,
    join(dir, 'alertmanager.log'),
  );
}

export function startPrometheus(
  bin: string,
  dir: string,
  port: number,
  target: string,
  alertmanagerPort: number,
): Backend {
  const rules = {
    groups: [
      {
        name: 'demo',
        interval: '1s',
        rules: [
          { record: 'namespace:http_requests:rate1m', expr: 'sum by (namespace) (rate(http_requests_total[1m]))' },
          {
            alert: 'TenantServesErrors',
            expr: 'sum by (namespace) (http_requests_total{code="500"}) > 0',
            labels: { severity: 'warning' },
            annotations: { summary: '{{ $labels.namespace }} answers with 500s' },
          },
        ],
      },
    ],
  };
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [join(dir, 'rules.yml')],
    alerting: {
      alertmanagers: [
        {
          api_version: 'v2',
          path_prefix: '/alertmanager',
          static_configs: [{ targets: [`127.0.0.1:${alertmanagerPort}`] }],
        },
      ],
    },
    // honor_labels keeps each series' own namespace label: the exposition speaks for several tenants.
    scrape_configs: [{ job_name: 'demo-tenants', honor_labels: true, static_configs: [{ targets: [target] }] }],
  };
  writeFileSync(join(dir, 'rules.yml'), stringify(rules));
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  return run(
    'prometheus',
    bin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--rules.alert.resend-delay=1s',
    ],
    `http://127.0.0.1:${port}`,
    join(dir, 'prometheus.log'),
  );
}
