// Tenant header rendering and Mimir's tenant-ID rules (length, characters, reserved names, federation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Identity } from '../../src/authn/identity.js';
import { GatewayError } from '../../src/errors.js';
import { CONFIG_INVALID, ConfigError } from '../../src/config/errors.js';
import { createTenantHeader, tenantIdProblem } from '../../src/tenancy/tenant-header.js';
import type { LabelConstraint, Tenant } from '../../src/tenancy/tenant.js';

const who = (user = 'alice'): Identity => ({ subject: user, user, groups: [], claims: {}, method: 'basic' });
const tenant = (...constraints: LabelConstraint[]): Tenant => ({
  unrestricted: false,
  id: JSON.stringify(constraints),
  constraints,
});
const ns = (...values: string[]): LabelConstraint => ({ label: 'namespace', kind: 'values', values });
const UNRESTRICTED: Tenant = { unrestricted: true, id: 'unrestricted' };

function render(template: string, t: Tenant, opts: { federation?: boolean; user?: string } = {}): string {
  try {
    return createTenantHeader({ name: 'X-Scope-OrgID', template, allowFederation: opts.federation ?? false })(
      t,
      who(opts.user),
    );
  } catch (e) {
    if (e instanceof GatewayError) return e.code;
    throw e;
  }
}

test("Mimir's tenant-ID rules", () => {
  const cases: [string, boolean][] = [
    ['a', true],
    ['x'.repeat(150), true],
    ['x'.repeat(151), false],
    ['', false],
    ['.', false],
    ['..', false],
    ['...', true],
    ['__mimir_cluster', false],
    ['__mimir_cluster2', true],
    ["Az09!-_.*'()", true],
    ['a b', false],
    ['a/b', false],
    ['a|b', false],
    ['a:b', false],
    ['ä', false],
    ['a\nb', false],
  ];
  for (const [id, ok] of cases) assert.equal(tenantIdProblem(id) === undefined, ok, JSON.stringify(id));
  assert.equal(render('{{values.namespace}}', tenant(ns('x'.repeat(150)))), 'x'.repeat(150));
  assert.equal(render('{{values.namespace}}', tenant(ns('x'.repeat(151)))), 'PG_TENANT_HEADER_INVALID');
  for (const bad of ['.', '..', '__mimir_cluster', 'a b', 'kube/system'])
    assert.equal(render('{{values.namespace}}', tenant(ns(bad))), 'PG_TENANT_HEADER_INVALID', bad);
});

test('values, tenant and user placeholders', () => {
  const t = tenant({ label: 'cluster', kind: 'values', values: ['eu1'] }, ns('team-a'));
  assert.equal(render('{{values.namespace}}', t), 'team-a');
  assert.equal(render('{{ values.cluster }}-{{values.namespace}}', t), 'eu1-team-a');
  assert.equal(render('{{user}}', t, { user: 'bob' }), 'bob');
  assert.equal(render('{{tenant}}', tenant(ns('one'))), 'one');
  assert.equal(render('{{tenant}}', t), 'PG_TENANT_HEADER_INVALID', '{{tenant}} needs exactly one constraint');
  assert.equal(render('{{values.team}}', t), 'PG_TENANT_HEADER_INVALID', 'no such label');
  assert.equal(
    render('{{values.namespace}}', tenant({ label: 'namespace', kind: 'regex', pattern: 'team-.*' })),
    'PG_TENANT_HEADER_INVALID',
    'a regex cannot be named',
  );
  const at = ['routes', 0, 'upstream', 'tenantHeader', 'template'];
  for (const template of ['{{ nope }}', '{{ values.team'])
    assert.throws(
      () => createTenantHeader({ name: 'X', template, allowFederation: false }, at),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.code === CONFIG_INVALID &&
        e.keys.join() === 'routes[0].upstream.tenantHeader.template',
    );
});

test('federation: several tenant IDs only when allowed; a | can never come from a value', () => {
  const two = tenant(ns('b', 'a'));
  assert.equal(render('{{values.namespace}}', two), 'PG_TENANT_HEADER_INVALID');
  assert.equal(render('{{values.namespace}}', two, { federation: true }), 'a|b');
  assert.equal(render('org-{{values.namespace}}', two, { federation: true }), 'org-a|org-b');
  assert.equal(render('{{user}}', tenant(ns('a')), { federation: true, user: 'a|other' }), 'PG_TENANT_HEADER_INVALID');
  assert.equal(render('{{values.namespace}}', tenant(ns('a|b')), { federation: true }), 'PG_TENANT_HEADER_INVALID');
});

test('an unrestricted tenant sends no header unless the template is only {{user}}', () => {
  assert.equal(render('{{values.namespace}}', UNRESTRICTED), '');
  assert.equal(render('{{tenant}}', UNRESTRICTED), '');
  assert.equal(render('{{user}}', UNRESTRICTED, { user: 'root' }), 'root');
  assert.equal(render('{{user}}-{{values.namespace}}', UNRESTRICTED), '');
});

test('results depending on the user are not shared between users', () => {
  const h = createTenantHeader({ name: 'X', template: '{{user}}-{{values.namespace}}', allowFederation: false });
  const t = tenant(ns('a'));
  assert.equal(h(t, who('u1')), 'u1-a');
  assert.equal(h(t, who('u2')), 'u2-a');
});
