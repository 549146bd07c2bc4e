// Tenant policy: claims, rules (exact/list/glob), templates, unions, refusals, unrestricted, interning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthMethod, Identity } from '../../src/authn/identity.js';
import { configSchema, type TenantsConfig } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { CONFIG_INVALID, ConfigError } from '../../src/config/errors.js';
import { createTenantResolver, type TenantResolverDeps } from '../../src/tenancy/policy.js';
import { tenantSelector, type Tenant } from '../../src/tenancy/tenant.js';
import { captureLogger } from '../authn/helpers.js';

function tenants(input: Record<string, unknown>): TenantsConfig {
  return configSchema.parse({ routes: [{ upstream: { url: 'http://p' } }], tenants: input }).tenants;
}

function resolver(input: Record<string, unknown>, deps: Partial<TenantResolverDeps> = {}) {
  return createTenantResolver(tenants(input), { logger: captureLogger().logger, ...deps });
}

function id(
  p: { user?: string; email?: string; groups?: string[]; claims?: Record<string, unknown>; method?: AuthMethod } = {},
): Identity {
  const user = p.user ?? 'u';
  return {
    subject: user,
    user,
    groups: p.groups ?? [],
    claims: p.claims ?? {},
    method: p.method ?? 'jwt',
    ...(p.email ? { email: p.email } : {}),
  };
}

/** The tenant as its selector, or the error code. */
function sel(r: ReturnType<typeof resolver>, identity: Identity): string {
  try {
    const t = r.resolve(identity);
    return t.unrestricted ? 'unrestricted' : t.id;
  } catch (e) {
    if (e instanceof GatewayError) return e.code;
    throw e;
  }
}

/** A refusal typed as a config problem at exactly this key path (the message text is free to change). */
const refusedAt = (key: string) => (e: unknown) =>
  e instanceof ConfigError && e.code === CONFIG_INVALID && e.keys.join() === key;

test('rules match users, emails, groups and claims by exact value, list or glob', () => {
  const r = resolver({
    rules: [
      { match: { users: ['alice'] }, labels: { namespace: 'alice-ns' } },
      { match: { users: ['ops-?', 'sre-*'] }, labels: { namespace: 'ops' } },
      { match: { emails: ['*@Example.com'] }, labels: { namespace: 'example' } },
      { match: { groups: ['team-*'] }, labels: { namespace: 'teams' } },
      { match: { claims: { department: 'eng', 'org.tier': ['gold', 'silver'] } }, labels: { namespace: 'eng' } },
    ],
  });
  assert.equal(sel(r, id({ user: 'alice' })), '{namespace="alice-ns"}');
  assert.equal(sel(r, id({ user: 'alice2' })), 'PG_TENANT_NONE');
  assert.equal(sel(r, id({ user: 'ops-1' })), '{namespace="ops"}');
  assert.equal(sel(r, id({ user: 'ops-12' })), 'PG_TENANT_NONE', '? is one character');
  assert.equal(sel(r, id({ user: 'sre-anything' })), '{namespace="ops"}');
  assert.equal(
    sel(r, id({ user: 'x', email: 'BOB@example.COM' })),
    '{namespace="example"}',
    'emails compare case-insensitively',
  );
  assert.equal(sel(r, id({ user: 'x', email: 'bob@example.com.evil' })), 'PG_TENANT_NONE', 'globs are anchored');
  assert.equal(sel(r, id({ user: 'x', groups: ['a', 'team-red'] })), '{namespace="teams"}');
  assert.equal(sel(r, id({ user: 'x', claims: { department: 'eng', org: { tier: 'gold' } } })), '{namespace="eng"}');
  assert.equal(
    sel(r, id({ user: 'x', claims: { department: ['hr', 'eng'], org: { tier: 'silver' } } })),
    '{namespace="eng"}',
  );
  assert.equal(
    sel(r, id({ user: 'x', claims: { department: 'eng', org: { tier: 'bronze' } } })),
    'PG_TENANT_NONE',
    'all claims must match',
  );
});

test('all given match fields must hold; an empty match applies to everyone', () => {
  const both = resolver({
    fromClaims: false,
    rules: [{ match: { users: ['alice'], groups: ['admins'] }, labels: { namespace: 'a' } }],
  });
  assert.equal(sel(both, id({ user: 'alice', groups: ['admins'] })), '{namespace="a"}');
  assert.equal(sel(both, id({ user: 'alice' })), 'PG_TENANT_NONE');
  assert.equal(sel(both, id({ user: 'bob', groups: ['admins'] })), 'PG_TENANT_NONE');
  const all = resolver({ rules: [{ labels: { env: 'public' } }] });
  assert.equal(sel(all, id({ user: 'anyone', method: 'anonymous' })), '{env="public"}');
});

test('templates: user, email, claims, and one value per group with the prefix stripped', () => {
  const r = resolver({
    rules: [
      { match: { users: ['t-user'] }, labels: { namespace: 'home-{{ user }}' } },
      { match: { users: ['t-email'] }, labels: { owner: '{{email}}' } },
      {
        match: { users: ['t-claim'] },
        labels: { cluster: '{{ claims.site.cluster }}', namespace: ['{{ claims.team }}', 'shared'] },
      },
      { match: { users: ['t-group'] }, groupPrefix: 'tenant-', labels: { namespace: '{{ group }}' } },
    ],
  });
  assert.equal(sel(r, id({ user: 't-user' })), '{namespace="home-t-user"}');
  assert.equal(sel(r, id({ user: 't-email', email: 'a@b.c' })), '{owner="a@b.c"}');
  assert.equal(
    sel(r, id({ user: 't-claim', claims: { site: { cluster: 'eu1' }, team: ['red', 'blue'] } })),
    '{cluster="eu1",namespace=~"blue|red|shared"}',
  );
  assert.equal(
    sel(r, id({ user: 't-group', groups: ['tenant-b', 'admins', 'tenant-a', 'tenant-'] })),
    '{namespace=~"a|b"}',
  );
  // A template with nothing behind it: the rule grants nothing (it must not drop just that label).
  assert.equal(sel(r, id({ user: 't-email' })), 'PG_TENANT_NONE');
  assert.equal(sel(r, id({ user: 't-group', groups: ['admins'] })), 'PG_TENANT_NONE');
  assert.equal(
    sel(r, id({ user: 't-claim', claims: { team: 'red' } })),
    'PG_TENANT_NONE',
    'no cluster claim: no tenant, not every cluster',
  );
  assert.throws(
    () => resolver({ rules: [{ labels: { namespace: '{{ nope }}' } }] }),
    refusedAt('tenants.rules[0].labels.namespace'),
  );
});

test('tenants from claims: users-file fields for basic, configured claim names for tokens', () => {
  const r = resolver({}, { claimNames: { namespaces: 'ns', labels: 'lbl' } });
  assert.equal(
    sel(r, id({ method: 'basic', claims: { namespaces: ['b', 'a'], labels: { team: 'red', tier: ['x', 'y'] } } })),
    '{namespace=~"a|b",team="red",tier=~"x|y"}',
  );
  assert.equal(sel(r, id({ claims: { ns: ['a'], lbl: { app: 'happy' } } })), '{app="happy",namespace="a"}');
  assert.equal(sel(r, id({ claims: { namespaces: ['a'] } })), 'PG_TENANT_NONE', 'tokens use the configured names');
  assert.equal(sel(r, id({ claims: { ns: [], lbl: {} } })), 'PG_TENANT_NONE', 'empty lists count as nothing');
  assert.equal(
    sel(r, id({ method: 'basic', claims: { namespaces: ['a', 'b'], labels: { namespace: ['b', 'c'] } } })),
    '{namespace="b"}',
    'both must hold',
  );
  for (const bad of [
    { ns: 'a' },
    { ns: [1] },
    { lbl: ['a'] },
    { lbl: { team: 5 } },
    { lbl: { 'bad-name': 'x' } },
    { lbl: { team: '' } },
  ]) {
    assert.equal(sel(r, id({ claims: bad })), 'PG_TENANT_NONE', JSON.stringify(bad));
  }
  assert.equal(
    sel(resolver({ fromClaims: false }), id({ method: 'basic', claims: { namespaces: ['a'] } })),
    'PG_TENANT_NONE',
  );
});

test('several sources combine as a union: values merge, regexes alternate, wider tenants absorb narrower ones', () => {
  const r = resolver({
    rules: [
      { match: { groups: ['extra'] }, labels: { namespace: 'b' } },
      { match: { groups: ['pattern'] }, regex: { namespace: 'team-.*' } },
      { match: { groups: ['wide'] }, labels: { namespace: 'a' } },
      { match: { groups: ['dup'] }, labels: { namespace: 'a' } },
    ],
  });
  const claims = { namespaces: ['a'] };
  assert.equal(sel(r, id({ claims, groups: ['extra'] })), '{namespace=~"a|b"}');
  assert.equal(sel(r, id({ claims, groups: ['pattern'] })), '{namespace=~"(?:a)|(?:team-.*)"}');
  assert.equal(sel(r, id({ claims, groups: ['extra', 'pattern'] })), '{namespace=~"(?:a)|(?:b)|(?:team-.*)"}');
  assert.equal(sel(r, id({ groups: ['pattern'] })), '{namespace=~"team-.*"}', 'a single regex stays as written');
  assert.equal(
    sel(r, id({ claims: { namespaces: ['a'], labels: { team: 'red' } }, groups: ['wide'] })),
    '{namespace="a"}',
  );
  assert.equal(
    sel(r, id({ claims: { namespaces: ['team-x'], labels: { team: 'red' } }, groups: ['pattern'] })),
    '{namespace=~"team-.*"}',
  );
  assert.equal(sel(r, id({ groups: ['wide', 'dup'] })), '{namespace="a"}', 'identical tenants dedupe');
});

test('a union that is not one matcher per label is refused, never widened', () => {
  const r = resolver({
    rules: [
      { match: { groups: ['b'] }, labels: { namespace: 'b' } },
      { match: { groups: ['c'] }, labels: { cluster: 'c' } },
    ],
  });
  assert.equal(
    sel(r, id({ claims: { namespaces: ['a'], labels: { team: 'red' } }, groups: ['b'] })),
    'PG_TENANT_UNREPRESENTABLE',
  );
  assert.equal(sel(r, id({ groups: ['b', 'c'] })), 'PG_TENANT_UNREPRESENTABLE');
  const e = (() => {
    try {
      r.resolve(id({ groups: ['b', 'c'] }));
    } catch (x) {
      return x;
    }
    return undefined;
  })();
  assert.ok(e instanceof GatewayError && e.status === 403);
});

test('unrestricted wins and is logged once per subject', () => {
  const { logger, lines } = captureLogger();
  const r = resolver(
    {
      rules: [
        { match: { groups: ['admins'] }, unrestricted: true },
        { match: { groups: ['admins'] }, labels: { namespace: 'x' } },
      ],
    },
    { logger },
  );
  const admin = id({ user: 'root', groups: ['admins'], claims: { namespaces: ['a'] } });
  const t1 = r.resolve(admin);
  assert.deepEqual(t1, { unrestricted: true, id: 'unrestricted' });
  r.resolve({ ...admin });
  assert.equal(lines.filter((l) => /unrestricted/.test(l.msg)).length, 1);
});

test('no source: refused with a message naming the user', () => {
  const r = resolver({ rules: [{ match: { users: ['x'] }, labels: { namespace: 'x' } }] });
  assert.throws(
    () => r.resolve(id({ user: 'bob' })),
    (e: unknown) =>
      e instanceof GatewayError &&
      e.code === 'PG_TENANT_NONE' &&
      e.message === 'user bob has neither namespaces nor labels and matches no tenant rule',
  );
});

test('tenants are interned, frozen, sorted, and identified by their selector', () => {
  const r = resolver({
    rules: [{ match: { users: ['a', 'b'] }, labels: { team: ['red', 'blue', 'red'], namespace: 'n' } }],
  });
  const ta = r.resolve(id({ user: 'a' }));
  const tb = r.resolve(id({ user: 'b' }));
  const ta2 = r.resolve(id({ user: 'a' }));
  assert.equal(ta, tb, 'same constraints, same object');
  assert.equal(ta, ta2);
  assert.ok(Object.isFrozen(ta));
  assert.ok(!ta.unrestricted);
  assert.ok(Object.isFrozen(ta.constraints) && ta.constraints.every((c) => Object.isFrozen(c)));
  assert.deepEqual(
    ta.constraints.map((c) => c.label),
    ['namespace', 'team'],
  );
  assert.deepEqual(ta.constraints[1], { label: 'team', kind: 'values', values: ['blue', 'red'] });
  assert.equal(ta.id, tenantSelector(ta as Extract<Tenant, { unrestricted: false }>));
});

test('a regex tenant pattern that matches the empty string is refused at config load', () => {
  assert.throws(() => tenants({ rules: [{ regex: { namespace: '.*' } }] }), /matches the empty string/);
  assert.throws(
    () => resolver({ rules: [{ labels: { namespace: 'a' }, regex: { namespace: 'b.*' } }] }),
    refusedAt('tenants.rules[0].labels.namespace'),
  );
});

test('a regex tenant and a values tenant that render alike are interned apart, so answers never depend on request order', async () => {
  const { createTenantHeader } = await import('../../src/tenancy/tenant-header.js');
  const header = createTenantHeader({ name: 'X-Scope-OrgID', template: '{{values.namespace}}', allowFederation: true });
  const answer = (t: Tenant, who: Identity): string => {
    try {
      return header(t, who);
    } catch (e) {
      if (e instanceof GatewayError) return e.code;
      throw e;
    }
  };
  const rules = {
    rules: [
      { match: { users: ['re'] }, regex: { namespace: 'team-a|team-b' } },
      { match: { users: ['vals'] }, labels: { namespace: ['team-a', 'team-b'] } },
    ],
  };
  const results = (['re', 'vals'] as const).map((first) => {
    const r = resolver(rules);
    const order = first === 're' ? ['re', 'vals'] : ['vals', 're'];
    const got: Record<string, [string, string]> = {};
    for (const user of order) {
      const t = r.resolve(id({ user }));
      assert.ok(!t.unrestricted);
      got[user] = [t.constraints[0]!.kind, answer(t, id({ user }))];
    }
    return got;
  });
  assert.deepEqual(results[0], results[1], 'the same users get the same answers in either order');
  assert.deepEqual(results[0], { re: ['regex', 'PG_TENANT_HEADER_INVALID'], vals: ['values', 'team-a|team-b'] });
});
