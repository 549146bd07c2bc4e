// Alert reads reach the real Alertmanager with the tenant matcher in `filter`: a recording proxy sits between promgate and Alertmanager.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { stringify } from 'yaml';
import {
  makeTempDir,
  promgateBuilt,
  startPromgate,
  startStack,
  waitFor,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';

type Labels = Readonly<Record<string, string>>;
type User = 'a' | 'b' | 'd' | 'admin';
const password = (u: User): string => `${u}-amf-pw`;
const ENTRIES: Record<User, Record<string, unknown>> = {
  a: { namespace: 'team-a' },
  b: { namespaces: ['team-b', 'team-c'] },
  d: { namespace: 'tenant.d' },
  admin: {},
};
/** The filter promgate must add for each tenant (Alertmanager matcher syntax). */
const TENANT_FILTER: Record<Exclude<User, 'admin'>, string> = {
  a: 'namespace="team-a"',
  b: 'namespace=~"team-b|team-c"',
  d: 'namespace="tenant.d"',
};
const VISIBLE: Record<Exclude<User, 'admin'>, (l: Labels) => boolean> = {
  a: (l) => l.namespace === 'team-a',
  b: (l) => l.namespace === 'team-b' || l.namespace === 'team-c',
  d: (l) => l.namespace === 'tenant.d',
};

/** What the proxy saw: the request line's target and the answer Alertmanager gave, by x-request-id. */
interface Seen {
  url: string;
  status: number;
  body: string;
}

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('am-filter-param');
const seen = new Map<string, Seen>();
let stack: Stack;
let proxy: Server;
let pg: PromgateInstance;

before(async () => {
  if (skip) return;
  stack = await startStack({ alertmanager: true });
  const am = new URL(stack.am!.url);
  proxy = createServer((req, res) => {
    const id = String(req.headers['x-request-id'] ?? '');
    const up = httpRequest(
      { host: am.hostname, port: am.port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          const body = Buffer.concat(chunks);
          if (id) seen.set(id, { url: req.url ?? '', status: ur.statusCode ?? 0, body: body.toString('utf8') });
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          res.end(body);
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const users = (Object.keys(ENTRIES) as User[]).map((u) => ({
    username: u,
    password: bcrypt.hashSync(password(u), 4),
    ...ENTRIES[u],
  }));
  writeFileSync(tmp.file('users.yaml'), stringify({ users }));
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  - { name: am, prefix: /alertmanager, upstream: { url: "${proxyUrl}", type: alertmanager } }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))} }
tenants:
  rules:
    - { match: { users: [admin] }, unrestricted: true }
`,
  });
});

after(async () => {
  await pg?.stop();
  await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
  await stack?.stop();
  tmp.remove();
});

let n = 0;
/** GET through promgate; returns promgate's answer and what Alertmanager was asked. */
async function read(user: User, path: string, params: [string, string][] = []) {
  const id = `amf-${++n}`;
  const qs = new URLSearchParams(params).toString();
  const r = await request(`${pg.url}/alertmanager${path}${qs ? `?${qs}` : ''}`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${user}:${password(user)}`).toString('base64')}`,
      'x-request-id': id,
    },
  });
  const text = await r.body.text();
  assert.equal(r.statusCode, 200, `${user} ${path}: ${text.slice(0, 300)}`);
  const upstream = await waitFor(() => seen.get(id), { what: `proxy saw ${id}`, timeoutMs: 3000 });
  const target = new URL(upstream.url, 'http://am');
  return {
    json: JSON.parse(text) as unknown,
    upstream,
    path: target.pathname,
    params: [...target.searchParams],
    filters: target.searchParams.getAll('filter'),
  };
}

interface AmAlert {
  labels: Labels;
}
const keys = (alerts: readonly AmAlert[]): string[] =>
  alerts.map((x) => `${x.labels.alertname}/${x.labels.namespace ?? '-'}`).sort();
const groupAlerts = (body: unknown): AmAlert[] => (body as { alerts: AmAlert[] }[]).flatMap((g) => g.alerts);

test(
  'GET /api/v2/alerts reaches Alertmanager with filter=<tenant matcher>, and Alertmanager itself answers only the tenant',
  { skip },
  async () => {
    for (const u of ['a', 'b', 'd'] as const) {
      const r = await read(u, '/api/v2/alerts');
      assert.equal(r.path, '/api/v2/alerts');
      assert.deepEqual(r.filters, [TENANT_FILTER[u]], `${u}: ${r.upstream.url}`);
      // The raw answer, before promgate's own defence-in-depth filtering, is already confined.
      const raw = JSON.parse(r.upstream.body) as AmAlert[];
      assert.ok(raw.length > 0, `${u}: Alertmanager has alerts for it`);
      assert.ok(
        raw.every((x) => VISIBLE[u](x.labels)),
        `${u}: Alertmanager answered ${keys(raw)}`,
      );
      assert.deepEqual(keys(r.json as AmAlert[]), keys(raw), u);
    }
    // d's exact match keeps tenantxd out, which an unescaped regex tenant.d would not.
    assert.ok(
      !keys(JSON.parse((await read('d', '/api/v2/alerts')).upstream.body) as AmAlert[]).some((k) =>
        k.endsWith('/tenantxd'),
      ),
    );
  },
);

test(
  "the user's own filters and other parameters are kept, in order, with the tenant filter appended",
  { skip },
  async () => {
    const own: [string, string][] = [
      ['active', 'true'],
      ['filter', 'alertname="HighErrorRate"'],
      ['silenced', 'false'],
      ['filter', 'severity=~"warn.*"'],
    ];
    const r = await read('a', '/api/v2/alerts', own);
    assert.deepEqual(r.params, [...own, ['filter', TENANT_FILTER.a]], r.upstream.url);
    assert.deepEqual(keys(JSON.parse(r.upstream.body) as AmAlert[]), ['HighErrorRate/team-a']);
    assert.deepEqual(keys(r.json as AmAlert[]), ['HighErrorRate/team-a']);
    // Asking for another tenant: both filters are ANDed by Alertmanager, so it answers nothing.
    for (const f of ['namespace="team-b"', 'namespace=~".+"', 'alertname="InfraCPU"']) {
      const x = await read('a', '/api/v2/alerts', [['filter', f]]);
      assert.deepEqual(x.filters, [f, TENANT_FILTER.a], f);
      const raw = JSON.parse(x.upstream.body) as AmAlert[];
      assert.ok(
        raw.every((a) => VISIBLE.a(a.labels)),
        `${f}: Alertmanager answered ${keys(raw)}`,
      );
    }
  },
);

test(
  "GET /api/v2/alerts/groups carries the tenant filter too; Alertmanager groups only the tenant's alerts",
  { skip },
  async () => {
    for (const u of ['a', 'b', 'd'] as const) {
      const r = await read(u, '/api/v2/alerts/groups', [['receiver', 'null']]);
      assert.equal(r.path, '/api/v2/alerts/groups');
      assert.deepEqual(
        r.params,
        [
          ['receiver', 'null'],
          ['filter', TENANT_FILTER[u]],
        ],
        r.upstream.url,
      );
      const raw = groupAlerts(JSON.parse(r.upstream.body));
      assert.ok(raw.length > 0 && raw.every((x) => VISIBLE[u](x.labels)), `${u}: Alertmanager grouped ${keys(raw)}`);
      assert.deepEqual(keys(groupAlerts(r.json)), keys(raw), u);
    }
    const b = await read('b', '/api/v2/alerts/groups', [['filter', 'namespace="team-c"']]);
    assert.deepEqual(b.filters, ['namespace="team-c"', TENANT_FILTER.b]);
    assert.deepEqual([...new Set(groupAlerts(b.json).map((x) => x.labels.namespace))], ['team-c']);
  },
);

test(
  'an unrestricted caller gets no filter added: the tenant filter is what confines the others',
  { skip },
  async () => {
    const r = await read('admin', '/api/v2/alerts');
    assert.deepEqual(r.filters, []);
    const all = JSON.parse(r.upstream.body) as AmAlert[];
    assert.ok(
      all.some((x) => x.labels.alertname === 'InfraCPU') && all.some((x) => x.labels.namespace === 'tenantxd'),
      keys(all).join(),
    );
    const g = await read('admin', '/api/v2/alerts/groups');
    assert.deepEqual(g.filters, []);
  },
);
