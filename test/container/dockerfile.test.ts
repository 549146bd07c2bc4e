// The container image without a container engine: replay the Dockerfile's COPY and RUN steps in temp dirs, then run the result read-only as its non-root user.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { request } from 'undici';
import {
  freePort,
  httpStatus,
  makeTempDir,
  REPO_ROOT,
  spawnProc,
  waitFor,
  type TempDir,
} from '../e2e/harness/index.js';

// ---- Dockerfile and .dockerignore, as a builder reads them ----------------------------------------------------

interface Instr {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  image: string;
  instrs: Instr[];
}

function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    assert.ok(m, `Dockerfile line: ${line}`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2]!.trim())!;
      stages.push({ image: f[1]!, name: f[2] ?? String(stages.length), instrs: [] });
    } else if (op !== 'ARG' || stages.length > 0) {
      stages.at(-1)!.instrs.push({ op, args: m[2]!.trim() });
    }
  }
  return stages;
}

const glob = (p: string): RegExp =>
  new RegExp(
    `^${p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*/g, '\0')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')
      .replace(/\0/g, '.*')}$`,
  );

/** Docker's rule: the last pattern matching the path or one of its parent directories decides; `!` re-includes. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const neg = l.startsWith('!');
      const p = (neg ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      return { neg, re: glob(p) };
    });
  return (path) => {
    const parts = path.split('/');
    let excluded = false;
    for (const r of rules) {
      for (let i = 1; i <= parts.length; i++) if (r.re.test(parts.slice(0, i).join('/'))) excluded = !r.neg;
    }
    return excluded;
  };
}

const jsonArray = (s: string): string[] => JSON.parse(s) as string[];

// ---- the replay ---------------------------------------------------------------------------------------------

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const final = stages.at(-1)!;
const ignored = dockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));
const isRoot = process.getuid?.() === 0;

let tmp: TempDir;
/** Each stage's root filesystem. */
const roots = new Map<string, string>();
const workdirs = new Map<string, string>();
let imageRoot = '';
let env: Record<string, string> = {};
let user = '';
let upstream: Server;
let upstreamUrl = '';

function copyFromContext(src: string, dest: string): void {
  const from = join(REPO_ROOT, src);
  assert.ok(existsSync(from), `COPY ${src}: not in the build context`);
  assert.ok(!ignored(src.replace(/\/$/, '')), `COPY ${src}: excluded by .dockerignore, the build would fail`);
  cpSync(from, dest, { recursive: true, filter: (p) => p === from || !ignored(relative(REPO_ROOT, p)) });
}

function replay(stage: Stage): void {
  const root = tmp.file(`stage-${stage.name}`);
  mkdirSync(root, { recursive: true });
  roots.set(stage.name, root);
  let wd = '/';
  for (const { op, args } of stage.instrs) {
    if (op === 'WORKDIR') {
      wd = args.startsWith('/') ? args : join(wd, args);
      mkdirSync(join(root, wd), { recursive: true });
    } else if (op === 'COPY') {
      const words = args.split(/\s+/);
      const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
      const dest = words.pop()!;
      const destPath = join(root, dest.startsWith('/') ? dest : join(wd, dest));
      for (const src of words) {
        const target = dest.endsWith('/') ? join(destPath, src.replace(/\/$/, '').split('/').pop()!) : destPath;
        mkdirSync(dirname(target), { recursive: true });
        if (from)
          cpSync(join(roots.get(from) ?? assert.fail(`COPY --from=${from}: no such stage`), src), target, {
            recursive: true,
          });
        else copyFromContext(src, target);
      }
    } else if (op === 'RUN') {
      // The same command, from the local npm cache where it can.
      const r = spawnSync('sh', ['-c', args], {
        cwd: join(root, wd),
        encoding: 'utf8',
        env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
        timeout: 600_000,
      });
      assert.equal(r.status, 0, `RUN ${args} in stage ${stage.name}:\n${r.stdout}\n${r.stderr}`);
    } else if (op === 'ENV') {
      for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    } else if (op === 'USER') user = args;
  }
  workdirs.set(stage.name, wd);
}

/**
 * A path inside the image → where the replay put it. The base image's node is the one running this test, placed
 * where every user can execute it, as /nodejs/bin/node is in the image (the node running this test may sit in a
 * directory only root can enter, e.g. CI's Node 24 under a mktemp directory; promgate re-executes its own binary
 * for the config child, which would then fail as the image USER).
 */
let imageNode = process.execPath;
const inImage = (p: string): string => (p === '/nodejs/bin/node' ? imageNode : join(imageRoot, p));

/** The running node, linked (or copied) to `dest` with mode 0755 in 0755 directories. */
function placeNode(dest: string): string {
  mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
  for (let d = dirname(dest); d !== tmp.path && d.startsWith(tmp.path); d = dirname(d)) chmodSync(d, 0o755);
  try {
    linkSync(process.execPath, dest);
  } catch {
    cpSync(process.execPath, dest);
  }
  chmodSync(dest, 0o755);
  return dest;
}

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = lstatSync(p);
      out.push(`${relative(dir, p)} ${s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

before(async () => {
  tmp = makeTempDir('dockerfile');
  chmodSync(tmp.path, 0o755);
  env = {};
  for (const s of stages) replay(s);
  imageRoot = roots.get(final.name)!;
  upstream = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: 'success',
        data: {
          resultType: 'vector',
          result: [],
          query: new URL(req.url ?? '/', 'http://x').searchParams.get('query'),
        },
      }),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const a = upstream.address();
  upstreamUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

after(() => {
  upstream?.closeAllConnections();
  upstream?.close();
  if (tmp) {
    spawnSync('chmod', ['-R', 'u+w', tmp.path]);
    tmp.remove();
  }
});

test('the Dockerfile is multi-stage, runs distroless Node LTS as non-root, with HEALTHCHECK, ENTRYPOINT and OCI labels', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  assert.match(final.image, /^gcr\.io\/distroless\/nodejs(20|22|24)-debian\d+(:nonroot)?$|^node:(20|22|24)-\w+-slim$/);
  assert.ok(user && !/^(0|root)(:|$)/.test(user), `USER ${user}`);
  const instr = (op: string) => final.instrs.filter((i) => i.op === op).map((i) => i.args);
  assert.match(instr('HEALTHCHECK').join(), /CMD \[.*healthcheck\.js"\]/);
  assert.match(instr('HEALTHCHECK').join(), /\/-\/healthy|healthcheck/);
  assert.equal(instr('ENTRYPOINT').length, 1);
  const labels = instr('LABEL').join(' ');
  for (const l of ['title', 'description', 'licenses', 'version', 'revision'])
    assert.ok(labels.includes(`org.opencontainers.image.${l}=`), l);
});

test('.dockerignore keeps tests, benches, docs, dist and local files out of the build context', () => {
  for (const p of [
    'test/e2e/isolation.test.ts',
    'bench/run.ts',
    'node_modules/yaml/package.json',
    'dist/index.js',
    '.git/config',
    'docs/api.md',
    '.env',
    'deploy/helm/promgate/Chart.yaml',
    'scripts/test.mjs',
  ])
    assert.ok(ignored(p), `${p} excluded`);
  for (const p of ['src/index.ts', 'package.json', 'package-lock.json', 'tsconfig.json'])
    assert.ok(!ignored(p), `${p} sent`);
});

test('the runtime stage holds only dist/, production node_modules and package.json', () => {
  const app = join(imageRoot, workdirs.get(final.name)!);
  assert.deepEqual(readdirSync(imageRoot), [workdirs.get(final.name)!.split('/')[1]]);
  assert.deepEqual(readdirSync(app).sort(), ['dist', 'node_modules', 'package.json']);
  for (const dev of ['typescript', 'tsx', 'fast-check', '@types', 'oidc-provider'])
    assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is a dev dependency`);
  assert.ok(existsSync(join(app, 'node_modules', 'pino')) && existsSync(join(app, 'dist', 'cli', 'main.js')));
});

test('the image runs read-only as its USER: healthy, enforcing, nothing written, healthcheck follows the process', async () => {
  const [uid, gid] = user.split(':');
  if (isRoot) imageNode = placeNode(tmp.file('nodejs/bin/node'));
  // Read-only root filesystem: no write bit anywhere in the image.
  spawnSync('chmod', ['-R', 'a-w', imageRoot]);
  const etc = tmp.file('etc');
  mkdirSync(etc, { mode: 0o755 });
  const configPath = join(etc, 'promgate.yaml');
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1 }\nroutes:\n  - upstream: { url: "${upstreamUrl}" }\nauth: { anonymous: true }\ntenants:\n  rules:\n    - match: { users: [anonymous] }\n      labels: { namespace: team-a }\n`,
    { mode: 0o644 },
  );
  const port = await freePort();
  // The image's environment only (plus the port), with its config path mapped to the file above.
  const runEnv: Record<string, string> = {
    ...env,
    PROMGATE_CONFIG: configPath,
    PROMGATE_SERVER__PORT: String(port),
    PATH: '/usr/bin:/bin',
    HOME: '/nonexistent',
  };
  assert.equal(env.PROMGATE_CONFIG, '/etc/promgate/promgate.yaml');
  const asUser = (argv: string[]): [string, string[]] =>
    isRoot
      ? ['setpriv', [`--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups', ...argv]]
      : [argv[0]!, argv.slice(1)];
  const entry = jsonArray(final.instrs.find((i) => i.op === 'ENTRYPOINT')!.args).map((a) =>
    a.startsWith('/') ? inImage(a) : a,
  );
  const cmd = jsonArray(final.instrs.find((i) => i.op === 'CMD')!.args);
  const health = jsonArray(/CMD (\[.*\])/.exec(final.instrs.find((i) => i.op === 'HEALTHCHECK')!.args)![1]!).map((a) =>
    a.startsWith('/') ? inImage(a) : a,
  );
  const cwd = join(imageRoot, workdirs.get(final.name)!);
  const before = snapshot(imageRoot);

  const [bin, args] = asUser([...entry, ...cmd]);
  const proc = spawnProc('image', bin, args, { cwd, env: runEnv });
  // spawnProc merges process.env; the image has none of it but what is set above, which wins.
  try {
    await waitFor(async () => (await httpStatus(`http://127.0.0.1:${port}/-/ready`)) === 200, {
      what: "the image's promgate ready",
      procs: [proc],
    });
    const r = await request(`http://127.0.0.1:${port}/api/v1/query?query=up`);
    assert.equal(((await r.body.json()) as { data: { query: string } }).data.query, 'up{namespace="team-a"}');
    const [hb, ha] = asUser(health);
    const ok = spawnSync(hb, ha, { cwd, env: runEnv, encoding: 'utf8', timeout: 30_000 });
    assert.equal(ok.status, 0, `HEALTHCHECK while serving: ${ok.stderr}`);
    if (isRoot)
      assert.match(
        readFileSync(`/proc/${proc.pid}/status`, 'utf8'),
        new RegExp(`\\nUid:\\s+${uid}\\s`),
        'runs as the image USER',
      );
    proc.kill('SIGTERM');
    assert.equal((await proc.waitExit()).code, 0, proc.logs());
    assert.ok(!proc.logs().includes('EACCES') && !proc.logs().includes('EROFS'), proc.logs());
    const down = spawnSync(hb, ha, { cwd, env: runEnv, encoding: 'utf8', timeout: 30_000 });
    assert.equal(down.status, 1, 'HEALTHCHECK fails once promgate is gone');
  } finally {
    await proc.stop('SIGKILL');
  }
  assert.deepEqual(snapshot(imageRoot), before, 'nothing in the image was written');
  assert.ok(statSync(cwd).mode & 0o555 && !(statSync(cwd).mode & 0o222), 'the app dir was read-only');
});
