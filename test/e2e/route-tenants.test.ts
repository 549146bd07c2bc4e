// A route's own tenants policy (routes[].tenants), enforced against real Prometheus: clusters label tenants
// differently, so one identity is a namespace on one route, a team on another, and nothing on a third.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { stringify } from 'yaml';
import {
  makeTempDir,
  promgateBuilt,
  readAnswer,
  startPromgate,
  startStack,
  waitFor,
  type PromgateInstance,
  type Stack,
} from './harness/index.js';

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('route-tenants');
let stack: Stack;
let pg: PromgateInstance;
let Ts = '';

type User = 'alice' | 'carol' | 'bob';

before(async () => {
  if (skip) return;
  stack = await startStack();
  // Plaintext passwords keep the test fast; the users file accepts them (with a warning).
  const users = [
    { username: 'alice', password: 'alice-pw', namespace: 'team-a' },
    { username: 'carol', password: 'carol-pw', namespace: 'blue' },
    { username: 'bob', password: 'bob-pw', namespaces: ['team-b'] },
  ];
  writeFileSync(tmp.file('users.yaml'), stringify({ users }));
  const base = JSON.stringify(stack.prom.base);
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  # The global policy: users-file namespaces on the namespace label.
  - { name: east, prefix: /clusters/east/prometheus, upstream: { url: ${base} } }
  # Tenants are teams here, and only the rules say who sees which.
  - name: west
    prefix: /clusters/west/prometheus
    upstream: { url: ${base} }
    tenants:
      fromClaims: false
      rules:
        - { match: { users: [alice] }, labels: { team: red } }
  # Same claims, another label: a users-file namespace names a team.
  - name: lab
    prefix: /clusters/lab/prometheus
    upstream: { url: ${base} }
    tenants: { namespaceLabel: team }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))} }
`,
  });
  // A query time at which Prometheus itself has the data (a scrape counted is not yet a sample stored).
  await waitFor(
    async () => {
      Ts = ((Date.now() - 1000) / 1000).toFixed(3);
      const qs = new URLSearchParams({ query: 'count(tenant_info)', time: Ts });
      const r = await readAnswer(await request(`${stack.prom.base}/api/v1/query?${qs}`));
      return (r.json as { data?: { result?: unknown[] } } | undefined)?.data?.result?.length === 1;
    },
    { what: 'tenant_info in Prometheus', procs: [stack.prom.proc] },
  );
});

after(async () => {
  await pg?.stop();
  await stack?.stop();
  tmp.remove();
});

async function call(user: User, route: string, q: string) {
  const qs = new URLSearchParams({ query: q, time: Ts });
  const r = await request(`${pg.url}/clusters/${route}/prometheus/api/v1/query?${qs}`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}` },
  });
  return readAnswer(r);
}

/** The distinct {namespace, team} pairs a query answers, sorted. */
async function seen(user: User, route: string): Promise<string[]> {
  const r = await call(user, route, 'count by (namespace, team) (tenant_info)');
  assert.equal(r.status, 200, `${user} on ${route}: ${r.text.slice(0, 300)}`);
  const result = (r.json as { data: { result: { metric: Record<string, string> }[] } }).data.result;
  return result.map((s) => `${s.metric.namespace}/${s.metric.team}`).sort();
}

test('each route applies its own tenants policy; the global one where it has none', { skip }, async () => {
  // east (global): alice is namespace team-a.
  assert.deepEqual(await seen('alice', 'east'), ['team-a/red']);
  // west (own rules on team): alice is team red, which spans two namespaces.
  assert.deepEqual(await seen('alice', 'west'), ['team-a/red', 'team-c/red']);
  // lab (own namespaceLabel): carol's users-file namespace "blue" is a team here …
  assert.deepEqual(await seen('carol', 'lab'), ['team-b/blue']);
  // … and a namespace that does not exist on the global route.
  assert.deepEqual(await seen('carol', 'east'), []);
  // Control: the same query on the global route shows alice's one namespace, so the lists above can differ.
});

test(
  'a route whose own rules do not name the identity refuses it, though the global policy would not',
  { skip },
  async () => {
    assert.deepEqual(await seen('bob', 'east'), ['team-b/blue']);
    const r = await call('bob', 'west', 'up');
    assert.equal(r.status, 403, r.text);
    const body = r.json as { errorType?: string; code?: string };
    assert.equal(body.errorType, 'forbidden');
    assert.equal(body.code, 'PG_TENANT_NONE');
  },
);

test(
  'the override is enforced in the query, not only on its labels: a selector for another team sees nothing',
  { skip },
  async () => {
    const r = await call('alice', 'west', 'tenant_info{team="blue"}');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.json as { data: { result: unknown[] } }).data.result, []);
  },
);
