// `promgate demo`: the printed curl lines really show isolation, Ctrl-C leaves no process or temp dir behind, and missing binaries are handled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { makeTempDir, pidGone, PROMGATE_ENTRY, REPO_ROOT, spawnProc, waitFor } from '../e2e/harness/index.js';

/** Every process below `root` (children of children too), from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [pid, pp] of parent)
      if (pp === p) {
        out.push(pid);
        walk(pid);
      }
  };
  walk(root);
  return out;
}

/** Strings naming one of the demo's tenants anywhere in a JSON answer. */
function tenantsIn(v: unknown, out = new Set<string>()): Set<string> {
  if (typeof v === 'string' && /^team-[a-z]$/.test(v)) out.add(v);
  else if (Array.isArray(v)) v.forEach((x) => tenantsIn(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => tenantsIn(x, out));
  return out;
}

interface CurlLine {
  user?: string;
  password?: string;
  url: string;
  claim: string;
}

/** `curl [-i] [-u user:pw] 'URL'   # claim` as the demo prints it. */
function parseCurl(line: string): CurlLine {
  const m = /^\s*curl(?:\s+-i)?(?:\s+-u\s+([^:\s]+):(\S+))?\s+'([^']+)'\s+#\s+(.*)$/.exec(line);
  assert.ok(m, `unparsable curl line: ${line}`);
  return { user: m[1], password: m[2], url: m[3]!, claim: m[4]! };
}

test('npm start runs the demo', () => {
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.start!, /\bdemo\b/);
  assert.match(pkg.scripts['start:quickstart']!, /run --config examples\/quickstart\.yaml/);
});

test(
  'demo: the printed curl lines show tenant isolation, and SIGINT stops every process it started',
  { timeout: 180_000 },
  async () => {
    const demo = spawnProc('demo', process.execPath, [PROMGATE_ENTRY, 'demo', '--port', '0'], { cwd: REPO_ROOT });
    try {
      await waitFor(() => demo.stdoutLines().some((l) => l.includes('promgate demo is ready')), {
        what: "the demo's ready line",
        timeoutMs: 120_000,
        procs: [demo],
      });
      const out = demo.stdoutLines();
      const dir = /data in (\S+?)\)/.exec(out.join('\n'))?.[1];
      assert.ok(dir && existsSync(dir), `temp dir printed and present: ${dir}`);
      const children = descendants(demo.pid!);
      assert.ok(children.length >= 2, `prometheus and alertmanager run below the demo: ${children.join(',')}`);

      const curls = out.filter((l) => /^\s*curl /.test(l)).map(parseCurl);
      assert.ok(curls.length >= 5, `curl lines printed:\n${out.join('\n')}`);
      const users = new Set(curls.map((c) => c.user).filter(Boolean));
      assert.ok(users.size >= 2, 'two users');
      for (const c of curls) {
        const headers: Record<string, string> = {};
        if (c.user) headers.authorization = `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;
        const r = await request(c.url, { headers });
        const text = await r.body.text();
        const what = `${c.user ?? 'anonymous'} ${c.url} (claims "${c.claim}"): HTTP ${r.statusCode} ${text.slice(0, 300)}`;
        if (c.claim.startsWith('401')) {
          assert.equal(r.statusCode, 401, what);
          continue;
        }
        assert.equal(r.statusCode, 200, what);
        const only = /^only (team-[a-z])/.exec(c.claim)?.[1];
        assert.ok(only, `every curl line names what it shows: ${c.claim}`);
        const seen = [...tenantsIn(JSON.parse(text))];
        // A line that says it is empty must be; every other one must show exactly the caller's tenant.
        assert.deepEqual(seen, c.claim.includes('empty') ? [] : [only], what);
      }
      // The same query straight to Prometheus sees every tenant: the isolation above is promgate's doing.
      const direct = /prometheus direct\s+(\S+)/.exec(out.join('\n'))?.[1];
      const all = await request(
        `${direct}/api/v1/query?query=${encodeURIComponent('sum by (namespace) (http_requests_total)')}`,
      );
      assert.deepEqual([...tenantsIn(await all.body.json())].sort(), ['team-a', 'team-b', 'team-c']);

      demo.kill('SIGINT');
      const exit = await demo.waitExit();
      assert.equal(exit.code, 0, demo.logs());
      for (const pid of children) assert.ok(pidGone(pid), `process ${pid} started by the demo is gone`);
      assert.ok(!existsSync(dir), `${dir} removed`);
    } finally {
      await demo.stop('SIGKILL');
    }
  },
);

test('demo: SIGTERM while it is still starting stops what it already started', { timeout: 120_000 }, async () => {
  const demo = spawnProc('demo-early', process.execPath, [PROMGATE_ENTRY, 'demo', '--port', '0'], { cwd: REPO_ROOT });
  try {
    // Alertmanager is started (and waited for) before Prometheus: stop the demo as soon as it exists.
    const started = await waitFor(
      () => {
        const kids = descendants(demo.pid!);
        return kids.some((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('alertmanager')) ? kids : undefined;
      },
      { what: "the demo's first backend", timeoutMs: 60_000, intervalMs: 20, procs: [demo] },
    );
    const dir = /data in (\S+?)\)/.exec(demo.stdoutLines().join('\n'))?.[1];
    demo.kill('SIGTERM');
    await demo.waitExit();
    const after = [...new Set([...started, ...descendants(demo.pid!)])];
    for (const pid of after) assert.ok(pidGone(pid), `process ${pid} started by the demo is gone`);
    if (dir) assert.ok(!existsSync(dir), `${dir} removed`);
  } finally {
    await demo.stop('SIGKILL');
  }
});

test(
  'demo without the Debian binaries: as a user it prints the apt line; as root it runs apt-get',
  { skip: process.getuid?.() !== 0 ? 'needs root to run as another user' : false },
  () => {
    const tmp = makeTempDir('demo-apt');
    chmodSync(tmp.path, 0o755);
    // A stand-in apt-get that records its arguments and fails like an offline machine.
    const record = tmp.file('apt-get.calls');
    writeFileSync(tmp.file('apt-get'), `#!/bin/sh\necho "$@" >> ${record}\n[ "$1" = update ] && exit 0\nexit 100\n`, {
      mode: 0o755,
    });
    const env = {
      ...process.env,
      PATH: `${tmp.path}:${process.env.PATH}`,
      PROMGATE_DEMO_PROMETHEUS: tmp.file('no-prometheus'),
    };
    try {
      const asUser = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, PROMGATE_ENTRY, 'demo', '--port', '0'],
        { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(asUser.status, 1, asUser.stderr);
      assert.match(asUser.stderr, /Install them with: {2}sudo apt-get install -y prometheus\n/);
      assert.ok(!existsSync(record), 'a non-root user never runs apt-get');

      const asRoot = spawnSync(process.execPath, [PROMGATE_ENTRY, 'demo', '--port', '0'], {
        cwd: REPO_ROOT,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(asRoot.status, 1, asRoot.stderr);
      assert.deepEqual(readFileSync(record, 'utf8').trim().split('\n'), [
        'update -qq',
        'install -y -qq --no-install-recommends prometheus',
      ]);
      assert.match(asRoot.stderr, /apt-get install failed[\s\S]*sudo apt-get install -y prometheus/);
    } finally {
      tmp.remove();
    }
  },
);
