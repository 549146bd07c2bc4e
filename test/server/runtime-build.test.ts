// Building a runtime: a build refused part-way (a bad file on reload) leaves nothing running behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { configSchema } from '../../src/config/schema.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { buildRuntime } from '../../src/wiring/runtime.js';
import { loadFeatures } from '../../src/wiring/features.js';
import { waitFor } from '../helpers/wait.js';
const key = (secret: string) =>
  JSON.stringify({ keys: [{ kty: 'oct', kid: 'k', k: Buffer.from(secret).toString('base64url') }] });

test('a refused build stops the file watchers of the authenticators it had already made', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'promgate-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, key('0123456789abcdef0123456789abcdef'));
  writeFileSync(join(dir, 'bad.yaml'), 'users: [ {username: broken\n');
  writeFileSync(join(dir, 'good.yaml'), 'users:\n  - {username: u, password: p, namespace: n}\n');
  const cfg = (usersFile: string) =>
    configSchema.parse({
      routes: [{ prefix: '/', upstream: { url: 'http://127.0.0.1:9' } }],
      auth: { jwt: { jwks, algorithms: ['HS256'] }, basic: { usersFile, allowPlaintext: true } },
    });
  const reloads = async (m: ReturnType<typeof createMetrics>): Promise<string[]> =>
    (await m.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('promgate_config_reloads_total{') && l.includes('jwt'));

  // The JWT authenticator (with its watcher on the JWKS file) is built before the users file is refused.
  await loadFeatures(cfg(join(dir, 'good.yaml'))); // as startGateway does before every build
  const failed = { logger: pino({ level: 'silent' }), metrics: createMetrics(), pools: new Map() };
  assert.throws(() => buildRuntime(cfg(join(dir, 'bad.yaml')), failed), /bad\.yaml/);
  // A control that is built and kept: its watcher does see the change.
  const kept = { logger: pino({ level: 'silent' }), metrics: createMetrics(), pools: new Map() };
  const rt = buildRuntime(cfg(join(dir, 'good.yaml')), kept);
  t.after(async () => {
    await rt.close();
    await Promise.all([...kept.pools.values(), ...failed.pools.values()].map((p) => p.close()));
  });
  writeFileSync(jwks, key('fedcba9876543210fedcba9876543210'));
  await waitFor(async () => (await reloads(kept.metrics)).length > 0, {
    what: 'a reload by the kept runtime',
    timeoutMs: 5000,
    intervalMs: 20,
  });
  assert.ok(
    (await reloads(kept.metrics)).some((l) => l.includes('result="success"')),
    'the kept runtime reloaded the JWKS file',
  );
  // A watcher left by the refused build would have had the same event and the same 200 ms debounce, armed just
  // before the kept one's, and so would have reloaded by now; one more read by the kept runtime is the margin.
  await Promise.all(rt.authenticators.map((a) => a.reload?.()));
  assert.deepEqual(await reloads(failed.metrics), [], 'nothing of the refused build is still watching');
});

test('the tenant header follows tenants.namespaceLabel unless a template is given', async (t) => {
  const deps = { logger: pino({ level: 'silent' }), metrics: createMetrics(), pools: new Map() };
  const header = (tenantHeader: Record<string, unknown>): string | undefined => {
    const rt = buildRuntime(
      configSchema.parse({
        routes: [{ prefix: '/', upstream: { url: 'http://127.0.0.1:9', type: 'mimir', tenantHeader } }],
        auth: { anonymous: true },
        tenants: { namespaceLabel: 'kube_namespace' },
      }),
      deps,
    );
    t.after(() => rt.close());
    const tenant = Object.freeze({
      unrestricted: false as const,
      id: '{kube_namespace="team-a",team="red"}',
      constraints: Object.freeze([
        Object.freeze({ label: 'kube_namespace', kind: 'values' as const, values: Object.freeze(['team-a']) }),
        Object.freeze({ label: 'team', kind: 'values' as const, values: Object.freeze(['red']) }),
      ]),
    });
    const headers: Record<string, string | string[]> = {};
    rt.routes
      .all()[0]!
      .tenantHeaders(tenant, { subject: 'u', user: 'u', groups: [], claims: {}, method: 'anonymous' }, headers);
    return headers['x-scope-orgid'] as string | undefined;
  };
  assert.equal(header({ name: 'X-Scope-OrgID' }), 'team-a');
  assert.equal(header({ name: 'X-Scope-OrgID', template: 'org-{{values.team}}' }), 'org-red');
  t.after(() => Promise.all([...deps.pools.values()].map((p) => p.close())));
});
