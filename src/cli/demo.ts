// `promgate demo`: real Prometheus + Alertmanager with multi-tenant data, promgate in front with two users; Ctrl-C stops it all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hashPassword } from '../authn/password.js';
import { loadConfig } from '../config/load.js';
import { createLogger, flushLogger } from '../observability/logger.js';
import { startGateway, type Gateway } from '../server/server.js';
import { startDemoExposition, type DemoExposition } from '../demo/data.js';
import {
  demoBinaries,
  ensureBinaries,
  freePort,
  startAlertmanager,
  startPrometheus,
  type Backend,
} from '../demo/backends.js';

export interface DemoOptions {
  port: number;
  host: string;
  logLevel: string;
}

export const DEMO_USERS = [
  { username: 'alice', password: 'alice-password', namespace: 'team-a' },
  { username: 'bob', password: 'bob-password', namespace: 'team-b' },
] as const;

const say = (line = ''): void => void process.stdout.write(line + '\n');

/** Polls `check` until it is true; fails early when a backend it depends on has exited. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  deps: readonly Backend[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = deps.find((b) => !b.isRunning());
    if (dead)
      throw new Error(
        `${dead.name} exited while waiting for ${what}; its log (${dead.logFile}) ends with:\n${dead.tail()}`,
      );
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function json<T>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/**
 * Starts a backend on a free port, retrying with another port when the first one was taken meanwhile. Every
 * process is added to `live` as soon as it is spawned, so a Ctrl-C during start-up stops it too.
 */
async function withPort(
  live: Backend[],
  start: (port: number) => Backend,
  ready: (b: Backend) => Promise<boolean>,
): Promise<Backend> {
  let last: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const b = start(await freePort());
    live.push(b);
    try {
      await until(`${b.name} ${b.url}/-/ready`, () => ready(b), [b]);
      return b;
    } catch (e) {
      last = e as Error;
      await b.stop();
      live.splice(live.indexOf(b), 1);
      if (!/address already in use/i.test(b.tail(50))) break;
    }
  }
  throw last ?? new Error('could not start');
}

const httpOk = async (url: string): Promise<boolean> => (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;

export async function demoCommand(opts: DemoOptions): Promise<void> {
  const bins = demoBinaries(process.env);
  const ensured = ensureBinaries(bins, process.env, (l) => say(`promgate demo: ${l}`));
  if (!ensured.ok) {
    process.stderr.write(`promgate demo: ${ensured.message}\n`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'promgate-demo-'));
  const backends: Backend[] = [];
  let expo: DemoExposition | undefined;
  let gw: Gateway | undefined;
  const logger = createLogger(opts.logLevel);
  let stopping: Promise<void> | undefined;
  const stopAll = (code: number, why?: string): Promise<void> =>
    (stopping ??= (async () => {
      if (why) say(`\npromgate demo: ${why}; stopping everything it started…`);
      await gw?.shutdown().catch(() => undefined);
      await Promise.all(backends.map((b) => b.stop()));
      await expo?.close();
      rmSync(dir, { recursive: true, force: true });
      flushLogger(logger);
      say(`promgate demo: stopped (prometheus, alertmanager and the gateway are gone; ${dir} removed).`);
      process.exit(code);
    })());
  process.on('SIGINT', () => void stopAll(0, 'SIGINT'));
  process.on('SIGTERM', () => void stopAll(0, 'SIGTERM'));
  process.on('SIGHUP', () => void stopAll(0, 'SIGHUP'));

  try {
    say(`promgate demo: starting Prometheus and Alertmanager (data in ${dir})…`);
    expo = await startDemoExposition();
    const am = await withPort(
      backends,
      (p) => startAlertmanager(bins.alertmanager, dir, p),
      (b) => httpOk(`${b.url}/-/ready`),
    );
    const amPort = Number(new URL(am.url).port);
    const target = expo.target;
    const prom = await withPort(
      backends,
      (p) => startPrometheus(bins.prometheus, dir, p, target, amPort),
      (b) => httpOk(`${b.url}/-/ready`),
    );
    for (const b of [am, prom])
      void b.exited.then(() => void stopAll(1, `${b.name} exited unexpectedly; its log ends with:\n${b.tail()}`));

    const users = await Promise.all(
      DEMO_USERS.map(async (u) => ({
        username: u.username,
        password: await hashPassword(u.password, { algorithm: 'bcrypt', cost: 10 }),
        namespace: u.namespace,
      })),
    );
    writeFileSync(join(dir, 'users.yaml'), stringify({ users }));
    const config = {
      server: {
        host: opts.host,
        port: opts.port,
        shutdownTimeout: '2s',
        readyCheckInterval: '1s',
        logLevel: opts.logLevel,
      },
      routes: [
        { name: 'alertmanager', prefix: '/alertmanager', upstream: { url: am.url, type: 'alertmanager' } },
        { name: 'prometheus', prefix: '/', upstream: { url: prom.url, type: 'prometheus' } },
      ],
      auth: { basic: { usersFile: join(dir, 'users.yaml') } },
    };
    const configFile = join(dir, 'promgate.yaml');
    writeFileSync(configFile, stringify(config));
    const load = () => loadConfig({ file: configFile, env: {} });
    gw = await startGateway({ logger, load });
    const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
    const base = `http://${host}:${gw.port}`;

    // Ready means: every tenant's data is in Prometheus, its alerts reached Alertmanager, and the gateway says ready.
    type Vector = { data: { result: { metric: Record<string, string> }[] } };
    await until(
      'data of every tenant in Prometheus',
      async () =>
        (await json<Vector>(`${prom.url}/api/v1/query?query=count+by+(namespace)(http_requests_total)`)).data.result
          .length === 3,
      backends,
    );
    await until(
      'alerts in Alertmanager',
      async () =>
        new Set(
          (await json<{ labels: Record<string, string> }[]>(`${am.url}/api/v2/alerts`)).map((a) => a.labels.namespace),
        ).size === 3,
      backends,
    );
    await until(`promgate ${base}/-/ready`, () => httpOk(`${base}/-/ready`), backends);
    printGuide(base, prom.url, am.url, configFile);
  } catch (e) {
    process.stderr.write(`promgate demo: ${(e as Error).message}\n`);
    await stopAll(1);
  }
}

function printGuide(base: string, promUrl: string, amUrl: string, configFile: string): void {
  const [alice, bob] = DEMO_USERS;
  const q = (expr: string) => encodeURIComponent(expr).replace(/%20/g, '+');
  const lines = [
    '',
    'promgate demo is ready.',
    '',
    `  gateway            ${base}   (basic auth; try the Prometheus UI at ${base}/graph)`,
    `  alertmanager       ${base}/alertmanager/api/v2/alerts  (through the gateway)`,
    `  prometheus direct  ${promUrl}   alertmanager direct ${amUrl}   (no auth: compare)`,
    `  users              ${alice.username} / ${alice.password} → namespace ${alice.namespace};  ${bob.username} / ${bob.password} → namespace ${bob.namespace}`,
    `  config             ${configFile}`,
    '',
    "Try (each answer shows only the caller's namespace):",
    '',
    `  curl -u ${alice.username}:${alice.password} '${base}/api/v1/query?query=${q('sum by (namespace) (http_requests_total)')}'   # only team-a`,
    `  curl -u ${bob.username}:${bob.password} '${base}/api/v1/query?query=${q('sum by (namespace) (http_requests_total)')}'   # only team-b`,
    `  curl -u ${alice.username}:${alice.password} '${base}/api/v1/query?query=${q('http_requests_total{namespace="team-b"}')}'   # only team-a (empty: team-b is not hers)`,
    `  curl -u ${alice.username}:${alice.password} '${base}/api/v1/label/namespace/values'   # only team-a`,
    `  curl -u ${bob.username}:${bob.password} '${base}/alertmanager/api/v2/alerts'   # only team-b`,
    `  curl -i '${base}/api/v1/query?query=up'   # 401`,
    '',
    'Ctrl-C stops Prometheus, Alertmanager and the gateway, and removes the temporary data.',
    'To put promgate in front of your own Prometheus instead: promgate run --config examples/quickstart.yaml',
    '',
  ];
  for (const l of lines) say(l);
}
