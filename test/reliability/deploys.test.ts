// Issue 15.4: deploys lose no request. SIGTERM with 100 requests in flight completes all of them and refuses new
// connections; SIGHUP and config file changes under load lose nothing; with --workers 2, a worker killed with SIGKILL
// is replaced and the requests in flight on the other worker finish untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { ServerResponse } from 'node:http';
import { startStub, echoJson, type Stub } from '../helpers/upstream-stub.js';
import { promgateBuilt, startPromgate, type PromgateInstance } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { waitFor } from '../helpers/wait.js';
import { processTree } from '../../bench/procstat.js';

const skip = promgateBuilt() ? false : 'needs npm run build (dist/cli/main.js)';

/** Requests to paths with `hold` wait until release(); the stub records the gateway-side port of each. */
interface Held {
  res: ServerResponse;
  port: number;
}
let stub: Stub;
const held: Held[] = [];
const release = () => {
  for (const h of held.splice(0)) if (!h.res.destroyed) echoJson(h.res.req, h.res, '');
};

before(async () => {
  stub = await startStub((req, res, body) => {
    if (req.url?.includes('hold')) held.push({ res, port: req.socket.remotePort ?? 0 });
    else echoJson(req, res, body);
  });
});

after(async () => {
  release();
  await stub?.close();
});

const config = (ns: string, extra = '') => `
server: { host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 1h, shutdownTimeout: 60s, logLevel: info ${extra} }
routes: [ { name: r, prefix: /, upstream: { url: "${stub.url}" } } ]
auth: { anonymous: true }
tenants: { rules: [ { labels: { namespace: ${ns} } } ] }
`;

async function fire(url: string, agent: Agent): Promise<{ status: number; text: string } | { error: string }> {
  try {
    const r = await request(url, { dispatcher: agent });
    return { status: r.statusCode, text: await r.body.text() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

test(
  'SIGTERM with 100 requests in flight: all 100 complete, new connections are refused, exit 0',
  { skip },
  async () => {
    const gw = await startPromgate({ configYaml: config('team-a') });
    const agent = new Agent({ connections: 100 });
    try {
      const inflight = Array.from({ length: 100 }, (_, i) => fire(`${gw.url}/api/v1/query?query=hold${i}`, agent));
      await waitFor(() => held.length === 100, {
        what: '100 requests held upstream',
        timeoutMs: 20_000,
        procs: [gw.proc],
      });
      gw.proc.kill('SIGTERM');
      await waitFor(() => gw.logLines().some((l) => String(l.msg).startsWith('shutting down')), {
        what: 'the drain to start',
        timeoutMs: 10_000,
        intervalMs: 10,
      });
      const fresh = new Agent();
      const refused = await fire(`${gw.url}/-/healthy`, fresh);
      await fresh.close();
      assert.ok('error' in refused, `a new connection was served while draining: ${JSON.stringify(refused)}`);
      release();
      const results = await Promise.all(inflight);
      const bad = results.filter(
        (r) => !('status' in r) || r.status !== 200 || !r.text.startsWith('{"status":"success"'),
      );
      assert.deepEqual(bad, [], 'every in-flight request completed');
      assert.equal((await gw.waitExit()).code, 0);
    } finally {
      await agent.close();
      await gw.stop();
    }
  },
);

/** The count of successful config reloads, read from /metrics. */
async function reloads(url: string): Promise<number> {
  const m = await (await request(`${url}/metrics`)).body.text();
  return Number(/promgate_config_reloads_total\{source="config",result="success"\} (\d+)/.exec(m)?.[1] ?? 0);
}

test('SIGHUP and config file changes under load lose no request', { skip }, async () => {
  const dir = makeTempDir('deploys');
  const configPath = dir.file('promgate.yaml');
  const gw = await startPromgate({ configYaml: config('team-a'), configPath });
  const agent = new Agent({ connections: 16 });
  let stop = false;
  const outcomes: ({ status: number; text: string } | { error: string })[] = [];
  const loop = async () => {
    while (!stop) outcomes.push(await fire(`${gw.url}/api/v1/query?query=up`, agent));
  };
  try {
    const loops = Array.from({ length: 16 }, loop);
    for (let i = 0; i < 6; i++) {
      const before = await reloads(gw.url);
      if (i % 2 === 0) gw.proc.kill('SIGHUP');
      else writeFileSync(configPath, config(`team-${i}`).replace('{{PORT}}', String(gw.port)));
      await waitFor(async () => (await reloads(gw.url)) > before, {
        what: `reload ${i}`,
        timeoutMs: 10_000,
        intervalMs: 20,
        procs: [gw.proc],
      });
    }
    stop = true;
    await Promise.all(loops);
    const failed = outcomes.filter((r) => !('status' in r) || r.status !== 200);
    assert.ok(outcomes.length > 100, `only ${outcomes.length} requests were sent`);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${outcomes.length} requests failed`);
  } finally {
    stop = true;
    await agent.close();
    await gw.stop();
    dir.remove();
  }
});

/** The worker pid that owns the local TCP port, from /proc. */
function ownerOfPort(pids: readonly number[], port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
    }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return pid;
      } catch {
        // gone
      }
    }
  }
  return undefined;
}

test(
  '--workers 2: a worker killed with SIGKILL is replaced; requests on the other worker finish',
  { skip },
  async () => {
    const gw: PromgateInstance = await startPromgate({ configYaml: config('team-a', ', workers: 2') });
    const agent = new Agent({ connections: 40 });
    try {
      const primary = gw.proc.pid!;
      const workers = () => processTree(primary).filter((p) => p !== primary);
      const listening = () => gw.logLines().filter((l) => l.msg === 'promgate listening').length;
      await waitFor(() => workers().length === 2 && listening() === 2, {
        what: 'two workers listening',
        timeoutMs: 15_000,
        procs: [gw.proc],
      });
      // Each request on a connection of its own, until both workers hold some (the primary hands connections out
      // round robin, but not strictly so).
      const inflight: ReturnType<typeof fire>[] = [];
      const owners = () => new Set(held.map((h) => ownerOfPort(workers(), h.port)));
      while (inflight.length < 40 && (inflight.length < 8 || owners().size < 2)) {
        inflight.push(fire(`${gw.url}/api/v1/query?query=hold${inflight.length}`, agent));
        const n = inflight.length;
        await waitFor(() => held.length === n, {
          what: `${n} requests held upstream`,
          timeoutMs: 15_000,
          procs: [gw.proc],
        });
      }
      const owner = held.map((h) => ownerOfPort(workers(), h.port));
      const [victim, survivor] = workers();
      const onSurvivor = owner.filter((p) => p === survivor).length;
      assert.ok(
        onSurvivor > 0 && onSurvivor < owner.length,
        `on the surviving worker: ${onSurvivor} of ${owner.length}`,
      );
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => gw.logLines().some((l) => l.msg === 'worker exited; starting a new one'), {
        what: 'the primary to notice',
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      release();
      const results = await Promise.all(inflight);
      const ok = results.filter((r) => 'status' in r && r.status === 200).length;
      assert.equal(ok, onSurvivor, `${ok} completed; ${onSurvivor} were on the surviving worker`);
      await waitFor(() => workers().length === 2 && !workers().includes(victim!) && listening() === 3, {
        what: 'a replacement worker',
        timeoutMs: 15_000,
        procs: [gw.proc],
      });
      // The replacement serves: every new request answers, whichever worker takes it.
      const fresh = new Agent({ connections: 8 });
      const after = await Promise.all(Array.from({ length: 16 }, () => fire(`${gw.url}/api/v1/query?query=up`, fresh)));
      await fresh.close();
      assert.deepEqual(
        after.filter((r) => !('status' in r) || r.status !== 200),
        [],
      );
    } finally {
      release();
      await agent.close();
      await gw.stop();
    }
  },
);
