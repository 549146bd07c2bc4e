// Tenant isolation end to end against real Alertmanager: alerts, alert groups and silences (list, read, create, update, delete) per tenant.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { stringify } from 'yaml';
import {
  RULES,
  TENANTS,
  createSilence,
  getAlerts,
  getJson,
  makeTempDir,
  promgateBuilt,
  readAnswer,
  startAlertmanager,
  startExposition,
  startPrometheus,
  startPromgate,
  waitFor,
  waitForAlertmanagerAlerts,
  type AmAlert,
  type PromgateInstance,
  type SilenceMatcher,
} from './harness/index.js';

type User = 'a' | 'b' | 'd' | 'red' | 'ab' | 'nobody' | 'admin';
type Labels = Readonly<Record<string, string>>;

const ENTRIES: Record<User, Record<string, unknown>> = {
  a: { namespace: 'team-a' },
  b: { namespaces: ['team-b', 'team-c'] },
  d: { namespace: 'tenant.d' },
  red: { labels: { team: 'red' } },
  ab: { namespaces: ['team-a', 'team-b'], labels: { team: 'red' } },
  nobody: {},
  admin: {},
};
const password = (u: User): string => `${u}-am-pw`;

const VISIBLE: Record<Exclude<User, 'nobody'>, (l: Labels) => boolean> = {
  a: (l) => l.namespace === 'team-a',
  b: (l) => l.namespace === 'team-b' || l.namespace === 'team-c',
  d: (l) => l.namespace === 'tenant.d',
  red: (l) => l.team === 'red',
  ab: (l) => (l.namespace === 'team-a' || l.namespace === 'team-b') && l.team === 'red',
  admin: () => true,
};
type Viewer = keyof typeof VISIBLE;
const VIEWERS = ['a', 'b', 'd', 'red', 'ab', 'admin'] as const;

/** Alerts posted straight to Alertmanager: the only ones carrying `team`, so `red` and `ab` have something to see. */
const POSTED: Labels[] = [
  { alertname: 'TeamLabelled', namespace: 'team-b', team: 'red' },
  { alertname: 'TeamLabelled', namespace: 'team-c', team: 'red' },
  { alertname: 'TeamLabelled', namespace: 'tenantxd', team: 'green' },
];

/** The alerts Alertmanager holds: Prometheus's (rules.ts) and the posted ones. */
const ALERTS: Labels[] = [
  ...TENANTS.map((ns) => ({ alertname: RULES.highErrorRate, namespace: ns, severity: 'warning' })),
  { alertname: RULES.teamAStatic, namespace: 'team-a', severity: 'info' },
  { alertname: RULES.infraCpu, severity: 'critical' },
  ...POSTED,
];
const alertKey = (l: Labels): string => `${l.alertname}/${l.namespace ?? '-'}`;
const expectedAlerts = (u: Viewer): string[] => ALERTS.filter(VISIBLE[u]).map(alertKey).sort();

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('isolation-am');
/** Stops the fixture processes, last started first. */
const stops: (() => Promise<unknown>)[] = [];
let pg: PromgateInstance;
let amUrl = '';

/** Silences created straight at Alertmanager, each with the callers that own it. */
const DIRECT: Record<string, { matchers: SilenceMatcher[]; owners: Viewer[]; id?: string }> = {
  a: { matchers: [{ name: 'namespace', value: 'team-a' }], owners: ['a'] },
  b: { matchers: [{ name: 'namespace', value: 'team-b' }], owners: ['b'] },
  bc: { matchers: [{ name: 'namespace', value: 'team-b|team-c', isRegex: true }], owners: ['b'] },
  d: { matchers: [{ name: 'namespace', value: 'tenant.d' }], owners: ['d'] },
  // Unescaped: also mutes tenantxd, so it is not tenant.d's.
  dRegex: { matchers: [{ name: 'namespace', value: 'tenant.d', isRegex: true }], owners: [] },
  dEscaped: { matchers: [{ name: 'namespace', value: 'tenant\\.d', isRegex: true }], owners: ['d'] },
  xd: { matchers: [{ name: 'namespace', value: 'tenantxd' }], owners: [] },
  infra: { matchers: [{ name: 'alertname', value: RULES.infraCpu }], owners: [] },
  wide: { matchers: [{ name: 'namespace', value: 'team-.*', isRegex: true }], owners: [] },
  notA: { matchers: [{ name: 'namespace', value: 'team-a', isEqual: false }], owners: [] },
  red: { matchers: [{ name: 'team', value: 'red' }], owners: ['red'] },
  // Confines both of ab's labels, and red's only one.
  ab: {
    matchers: [
      { name: 'namespace', value: 'team-a|team-b', isRegex: true },
      { name: 'team', value: 'red' },
    ],
    owners: ['ab', 'red'],
  },
};

before(async () => {
  if (skip) return;
  // startStack, plus a 1 s alert resend delay: TeamAStatic (vector(1)) fires before Prometheus has found
  // Alertmanager, and with the default delay it would only be re-sent a minute later.
  const expo = await startExposition();
  stops.push(() => expo.stop());
  const am = await startAlertmanager();
  stops.unshift(() => am.stop());
  amUrl = am.url;
  const prom = await startPrometheus({ expo, alertmanagerUrl: am.url });
  stops.unshift(() => prom.stop());
  const now = Date.now();
  const posted = await fetch(`${amUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(
      POSTED.map((labels) => ({
        labels,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
      })),
    ),
  });
  assert.equal(posted.status, 200, await posted.text());
  await waitForAlertmanagerAlerts(am);
  const all = ALERTS.map(alertKey).sort().join();
  await waitFor(
    async () =>
      (await getAlerts(amUrl))
        .map((a) => alertKey(a.labels))
        .sort()
        .join() === all,
    { what: `Alertmanager holds ${all}`, procs: [am.proc] },
  );
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
  - name: am
    prefix: /alertmanager
    upstream: { url: "${amUrl}", type: alertmanager }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))} }
tenants:
  rules:
    - match: { users: [admin] }
      unrestricted: true
`,
  });
  // An extra alertname keeps these silences from muting the real alerts other tests look at.
  for (const s of Object.values(DIRECT))
    s.id = await createSilence(amUrl, [...s.matchers, { name: 'alertname', value: 'NoSuchAlert' }]);
});

after(async () => {
  await pg?.stop();
  for (const stop of stops) await stop().catch(() => undefined);
  tmp.remove();
});

interface Res {
  status: number;
  text: string;
  /** Parsed body; assertions walk arbitrary Alertmanager JSON, so it is left untyped here. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions only, never the data path
  json: any;
}

async function call(
  user: User | null,
  path: string,
  o: { method?: string; params?: [string, string][]; body?: unknown; contentType?: string } = {},
): Promise<Res> {
  const qs = new URLSearchParams(o.params ?? []).toString();
  const headers: Record<string, string> = {};
  if (user) headers.authorization = `Basic ${Buffer.from(`${user}:${password(user)}`).toString('base64')}`;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['content-type'] = o.contentType ?? 'application/json';
  }
  const method = (o.method ?? (body !== undefined ? 'POST' : 'GET')) as 'GET';
  const r = await request(`${pg.url}/alertmanager${path}${qs ? `?${qs}` : ''}`, { method, headers, body });
  const { status, text, json } = await readAnswer(r);
  return { status, text, json };
}

function refused(r: Res, status: number, code: string, what: string): void {
  assert.equal(r.status, status, `${what}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  assert.equal(r.json?.code, code, `${what}: ${r.text.slice(0, 300)}`);
}

interface AmSilence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  status: { state: string };
  comment: string;
}

const directSilence = (id: string): Promise<AmSilence> => getJson<AmSilence>(`${amUrl}/api/v2/silence/${id}`);

function silenceBody(matchers: SilenceMatcher[], extra: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    matchers: matchers.map((m) => ({ isRegex: false, isEqual: true, ...m })),
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + 3_600_000).toISOString(),
    createdBy: 'isolation-e2e',
    comment: 'created through promgate',
    ...extra,
  };
}

/** Which alerts (alertname/namespace) a silence mutes right now, read straight from Alertmanager. */
async function mutedBy(id: string): Promise<string[]> {
  const alerts = await getAlerts(amUrl);
  return alerts
    .filter((a: AmAlert) => a.status.silencedBy.includes(id))
    .map((a) => alertKey(a.labels))
    .sort();
}

test('alerts: each caller sees only its alerts, whatever filter it sends; InfraCPU never', { skip }, async () => {
  for (const u of VIEWERS) {
    const r = await call(u, '/api/v2/alerts');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.json as AmAlert[]).map((a) => alertKey(a.labels)).sort(), expectedAlerts(u), u);
  }
  assert.deepEqual(expectedAlerts('a'), ['HighErrorRate/team-a', 'TeamAStatic/team-a']);
  assert.deepEqual(expectedAlerts('red'), ['TeamLabelled/team-b', 'TeamLabelled/team-c']);
  assert.deepEqual(expectedAlerts('ab'), ['TeamLabelled/team-b']);
  for (const f of ['namespace="team-b"', 'alertname="InfraCPU"', 'namespace=~".+"', 'namespace!="team-a"']) {
    const r = await call('a', '/api/v2/alerts', { params: [['filter', f]] });
    assert.equal(r.status, 200, r.text);
    const got = (r.json as AmAlert[]).map((a) => alertKey(a.labels));
    assert.ok(
      got.every((k) => k.endsWith('/team-a')),
      `a with filter ${f}: ${got}`,
    );
  }
  const d = await call('d', '/api/v2/alerts', { params: [['filter', 'namespace=~"tenant.d"']] });
  assert.deepEqual(
    (d.json as AmAlert[]).map((a) => alertKey(a.labels)),
    ['HighErrorRate/tenant.d'],
  );
});

test("alert groups: only the caller's alerts, and no group left empty", { skip }, async () => {
  for (const u of VIEWERS) {
    const r = await call(u, '/api/v2/alerts/groups');
    assert.equal(r.status, 200, r.text);
    const groups = r.json as { labels: Labels; alerts: AmAlert[] }[];
    assert.ok(
      groups.every((g) => g.alerts.length > 0),
      `${u}: empty group`,
    );
    const got = groups.flatMap((g) => g.alerts.map((a) => alertKey(a.labels))).sort();
    assert.deepEqual(got, expectedAlerts(u), u);
    if (u !== 'admin')
      assert.ok(
        groups.every((g) => g.labels.alertname !== RULES.infraCpu),
        `${u} sees the InfraCPU group`,
      );
  }
});

test('silences list: each caller sees exactly the silences that only mute inside its tenant', { skip }, async () => {
  for (const u of VIEWERS) {
    const r = await call(u, '/api/v2/silences');
    assert.equal(r.status, 200, r.text);
    const ids = (r.json as AmSilence[]).map((s) => s.id);
    const want = Object.values(DIRECT)
      .filter((s) => u === 'admin' || s.owners.includes(u))
      .map((s) => s.id!);
    assert.deepEqual(
      [...ids].sort(),
      [...want].sort(),
      `${u}: ${JSON.stringify((r.json as AmSilence[]).map((s) => s.matchers))}`,
    );
  }
});

test('one silence: readable by its tenant only; unknown → 404; not a UUID → 400', { skip }, async () => {
  for (const [name, s] of Object.entries(DIRECT)) {
    for (const u of ['a', 'b', 'd', 'red', 'ab'] as const) {
      const r = await call(u, `/api/v2/silence/${s.id}`);
      if (s.owners.includes(u)) {
        assert.equal(r.status, 200, `${u} reads ${name}: ${r.text}`);
        assert.equal(r.json.id, s.id);
      } else refused(r, 403, 'PG_SILENCE_NOT_OWNED', `${u} reads ${name}`);
    }
  }
  refused(await call('a', `/api/v2/silence/${randomUUID()}`), 404, 'PG_NOT_FOUND', 'unknown silence');
  refused(await call('a', '/api/v2/silence/not-a-uuid'), 400, 'PG_BAD_REQUEST', 'not a uuid');
});

test("creating a silence adds the tenant matcher: it mutes only the caller's alerts", { skip }, async () => {
  const cases: { user: User; matchers: SilenceMatcher[]; added: SilenceMatcher; mutes: string[]; listedBy?: User[] }[] =
    [
      {
        user: 'a',
        matchers: [{ name: 'alertname', value: RULES.highErrorRate }],
        added: { name: 'namespace', value: 'team-a', isRegex: false },
        mutes: ['HighErrorRate/team-a'],
      },
      {
        user: 'b',
        matchers: [{ name: 'alertname', value: RULES.highErrorRate }],
        added: { name: 'namespace', value: 'team-b|team-c', isRegex: true },
        mutes: ['HighErrorRate/team-b', 'HighErrorRate/team-c'],
      },
      // d's own unescaped regex would also mute tenantxd; the added equality keeps it to tenant.d.
      {
        user: 'd',
        matchers: [{ name: 'namespace', value: 'tenant.d', isRegex: true }],
        added: { name: 'namespace', value: 'tenant.d', isRegex: false },
        mutes: ['HighErrorRate/tenant.d'],
      },
      // Another tenant's namespace, or a negation: the tenant matcher is ANDed, so nothing is muted.
      // (Stored as namespace="team-b",namespace="team-a", it mutes nothing, so it lies inside b's tenant too.)
      {
        user: 'a',
        matchers: [{ name: 'namespace', value: 'team-b' }],
        added: { name: 'namespace', value: 'team-a', isRegex: false },
        mutes: [],
        listedBy: ['a', 'b'],
      },
      {
        user: 'a',
        matchers: [{ name: 'namespace', value: 'team-a', isEqual: false }],
        added: { name: 'namespace', value: 'team-a', isRegex: false },
        mutes: [],
      },
      {
        user: 'a',
        matchers: [{ name: 'alertname', value: RULES.infraCpu }],
        added: { name: 'namespace', value: 'team-a', isRegex: false },
        mutes: [],
      },
    ];
  for (const c of cases) {
    const r = await call(c.user, '/api/v2/silences', { body: silenceBody(c.matchers) });
    assert.equal(r.status, 200, `${c.user} ${JSON.stringify(c.matchers)}: ${r.text}`);
    const id = r.json.silenceID as string;
    const stored = await directSilence(id);
    assert.ok(
      stored.matchers.some(
        (m) =>
          m.name === c.added.name && m.value === c.added.value && m.isRegex === c.added.isRegex && m.isEqual !== false,
      ),
      `${c.user}: stored matchers ${JSON.stringify(stored.matchers)} lack ${JSON.stringify(c.added)}`,
    );
    for (const m of c.matchers)
      assert.ok(
        stored.matchers.some((s) => s.name === m.name && s.value === m.value),
        "the user's own matchers are kept",
      );
    const muted = await waitFor(
      async () => {
        const got = await mutedBy(id);
        return got.join() === c.mutes.join() ? got : undefined;
      },
      { what: `silence ${id} of ${c.user} mutes ${c.mutes}`, timeoutMs: 5000 },
    ).catch(async () => mutedBy(id));
    assert.deepEqual(muted, c.mutes, `${c.user} ${JSON.stringify(c.matchers)}`);
    // The new silence is listed for its tenant and nobody else (admin aside).
    for (const u of ['a', 'b', 'd'] as const) {
      const ids = ((await call(u, '/api/v2/silences')).json as AmSilence[]).map((s) => s.id);
      assert.equal(ids.includes(id), (c.listedBy ?? [c.user]).includes(u), `${u} lists ${c.user}'s new silence`);
    }
  }
});

test("updating a silence: another tenant's → 403 and unchanged; one's own → 200", { skip }, async () => {
  const theirs = DIRECT.b!.id!;
  const r = await call('a', '/api/v2/silences', {
    body: silenceBody([{ name: 'namespace', value: 'team-a' }], { id: theirs, comment: 'hijacked' }),
  });
  refused(r, 403, 'PG_SILENCE_NOT_OWNED', "a updates b's silence");
  const after = await directSilence(theirs);
  assert.equal(after.status.state, 'active');
  assert.notEqual(after.comment, 'hijacked');
  assert.deepEqual(after.matchers.map((m) => `${m.name}=${m.value}`).sort(), [
    'alertname=NoSuchAlert',
    'namespace=team-b',
  ]);
  // Updating b's regex silence by sending b's matchers is refused just the same.
  refused(
    await call('a', '/api/v2/silences', { body: silenceBody(DIRECT.bc!.matchers, { id: DIRECT.bc!.id }) }),
    403,
    'PG_SILENCE_NOT_OWNED',
    'a updates bc',
  );
  refused(
    await call('d', '/api/v2/silences', { body: silenceBody(DIRECT.dRegex!.matchers, { id: DIRECT.dRegex!.id }) }),
    403,
    'PG_SILENCE_NOT_OWNED',
    'd updates the unescaped tenant.d silence',
  );

  const own = await call('a', '/api/v2/silences', {
    body: silenceBody(
      [
        { name: 'namespace', value: 'team-a' },
        { name: 'alertname', value: 'NoSuchAlert' },
      ],
      { id: DIRECT.a!.id, comment: 'updated by a' },
    ),
  });
  assert.equal(own.status, 200, own.text);
  const updated = await directSilence(own.json.silenceID as string);
  assert.equal(updated.comment, 'updated by a');
  assert.ok(updated.matchers.some((m) => m.name === 'namespace' && m.value === 'team-a' && !m.isRegex));
  DIRECT.a!.id = own.json.silenceID as string;
});

test("deleting a silence: another tenant's → 403 and still active; one's own → 200 and expired", { skip }, async () => {
  for (const [name, s] of Object.entries(DIRECT)) {
    if (s.owners.includes('a')) continue;
    refused(
      await call('a', `/api/v2/silence/${s.id}`, { method: 'DELETE' }),
      403,
      'PG_SILENCE_NOT_OWNED',
      `a deletes ${name}`,
    );
    assert.equal((await directSilence(s.id!)).status.state, 'active', `${name} survives`);
  }
  const mine = DIRECT.a!.id!;
  const r = await call('a', `/api/v2/silence/${mine}`, { method: 'DELETE' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await directSilence(mine)).status.state, 'expired');
  refused(
    await call('a', `/api/v2/silence/${randomUUID()}`, { method: 'DELETE' }),
    404,
    'PG_NOT_FOUND',
    'delete unknown',
  );
});

test('bad silence bodies are refused before Alertmanager sees them', { skip }, async () => {
  refused(
    await call('a', '/api/v2/silences', { body: 'matchers=x', contentType: 'application/x-www-form-urlencoded' }),
    415,
    'PG_UNSUPPORTED_MEDIA',
    'form body',
  );
  refused(await call('a', '/api/v2/silences', { body: '{"matchers": [' }), 400, 'PG_BAD_BODY', 'broken JSON');
  refused(await call('a', '/api/v2/silences', { body: silenceBody([]) }), 400, 'PG_BAD_BODY', 'no matchers');
  refused(
    await call('a', '/api/v2/silences', {
      body: silenceBody([{ name: 'namespace', value: 'team-a' }], { id: 'not-a-uuid' }),
    }),
    400,
    'PG_BAD_REQUEST',
    'bad id',
  );
});

test(
  'status and receivers are refused to tenants, served to admin; no tenant → 403; no credentials → 401',
  { skip },
  async () => {
    for (const path of ['/api/v2/status', '/api/v2/receivers']) {
      for (const u of ['a', 'b', 'red'] as const) refused(await call(u, path), 403, 'PG_PATH_REFUSED', `${u} ${path}`);
      assert.equal((await call('admin', path)).status, 200, `admin ${path}`);
    }
    for (const path of [
      '/api/v2/alerts',
      '/api/v2/alerts/groups',
      '/api/v2/silences',
      `/api/v2/silence/${DIRECT.b!.id}`,
    ]) {
      refused(await call('nobody', path), 403, 'PG_TENANT_NONE', `nobody ${path}`);
      const anon = await call(null, path);
      assert.equal(anon.status, 401, `anonymous ${path}`);
    }
    refused(
      await call('a', '/api/v2/alerts', { body: [] }),
      405,
      'PG_METHOD_NOT_ALLOWED',
      'POST alerts (would inject alerts)',
    );
    refused(await call('a', '/api/v1/alerts'), 404, 'PG_NOT_FOUND', 'API v1');
  },
);
