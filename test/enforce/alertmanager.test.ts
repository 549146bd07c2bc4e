// Tests of Alertmanager enforcement: filter rendering, alert filtering, silences. The same filters against a real
// Alertmanager: test/e2e/alertmanager-filters.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  alertmanagerFilters,
  decodeSilence,
  enforceSilence,
  enforceSilenceBody,
  filterAlertGroups,
  filterAmAlerts,
  filterSilences,
  readSilence,
  serializeSilence,
  silenceBelongsTo,
  silenceId,
  type PostableSilence,
  type SilenceMatcher,
} from '../../src/enforce/alertmanager.js';
import { GatewayError, type ErrorCode } from '../../src/errors.js';
import type { RestrictedTenant } from '../../src/tenancy/tenant.js';
import { MULTI, REGEX_D, TEAM_A, TENANT_D, TWO, WEIRD_MULTI, WEIRD_T, tenant } from './alertmanager-tenants.js';

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof GatewayError && e.code === code);
}

describe('alertmanagerFilters rendering', () => {
  const cases: [RestrictedTenant, string[]][] = [
    [TEAM_A, ['namespace="team-a"']],
    [MULTI, ['namespace=~"team-a|tenant\\\\.d"']],
    [REGEX_D, ['namespace=~"tenant\\\\..+"']],
    [WEIRD_T, ['namespace="we\\"ird\\\\ns\ttab\\nline"']],
    [TWO, ['cluster="c2"', 'namespace="team-a"']],
  ];
  for (const [t, want] of cases) it(t.id, () => assert.deepEqual(alertmanagerFilters(t), want));
  it('refuses a label name Alertmanager 0.25 cannot parse', () => {
    assertCode(
      () => alertmanagerFilters(tenant('dots', { label: 'k8s.namespace', kind: 'values', values: ['a'] })),
      'PG_TENANT_UNREPRESENTABLE',
    );
  });
});

const m = (name: string, value: string, isRegex = false, isEqual?: boolean): SilenceMatcher =>
  isEqual === undefined ? { name, value, isRegex } : { name, value, isRegex, isEqual };
const silence = (...matchers: unknown[]): unknown => ({
  id: 'x',
  matchers,
  startsAt: '',
  endsAt: '',
  createdBy: 'u',
  comment: 'c',
  status: { state: 'active' },
});

describe('silenceBelongsTo', () => {
  const table: [string, RestrictedTenant, unknown, boolean][] = [
    ['equality on the tenant value', TEAM_A, silence(m('namespace', 'team-a')), true],
    ['isEqual true', TEAM_A, silence(m('namespace', 'team-a', false, true)), true],
    ['negative matcher', TEAM_A, silence(m('namespace', 'team-a', false, false)), false],
    [
      'negative beside a positive one',
      TEAM_A,
      silence(m('namespace', 'x', false, false), m('namespace', 'team-a')),
      true,
    ],
    ['other tenant value', TEAM_A, silence(m('namespace', 'team-b')), false],
    ['other label only', TEAM_A, silence(m('alertname', 'A')), false],
    ['regex of the literal', TEAM_A, silence(m('namespace', 'team-a', true)), true],
    ['regex with escaped punctuation', TEAM_A, silence(m('namespace', 'team\\-a', true)), true],
    ['escaped letter is no literal (\\t is a tab)', TEAM_A, silence(m('namespace', '\\team-a', true)), false],
    ['regex wildcard', TEAM_A, silence(m('namespace', 'team-.*', true)), false],
    ['regex alternation with a foreign value', TEAM_A, silence(m('namespace', 'team-a|team-b', true)), false],
    ['no matchers', TEAM_A, silence(), false],
    ['matchers missing', TEAM_A, { id: 'x' }, false],
    ['not an object', TEAM_A, 'namespace="team-a"', false],
    [
      'malformed matcher beside a good one',
      TEAM_A,
      silence(m('namespace', 'team-a'), { name: 'a', value: 1, isRegex: false }),
      false,
    ],
    [
      'isEqual not a boolean',
      TEAM_A,
      silence({ name: 'namespace', value: 'team-a', isRegex: false, isEqual: 'yes' }),
      false,
    ],
    ['unescaped dot regex (matches tenantxd)', TENANT_D, silence(m('namespace', 'tenant.d', true)), false],
    ['escaped dot regex', TENANT_D, silence(m('namespace', 'tenant\\.d', true)), true],
    ['equality tenant.d', TENANT_D, silence(m('namespace', 'tenant.d')), true],
    ['equality tenantxd', TENANT_D, silence(m('namespace', 'tenantxd')), false],
    ['rendered alternation', MULTI, silence(m('namespace', 'team-a|tenant\\.d', true)), true],
    ['reordered alternation', MULTI, silence(m('namespace', 'tenant\\.d|team-a', true)), true],
    ['one value of several', MULTI, silence(m('namespace', 'team-a')), true],
    ['empty alternative', MULTI, silence(m('namespace', 'team-a|', true)), false],
    ['grouped alternation', MULTI, silence(m('namespace', '(team-a|tenant\\.d)', true)), false],
    ['backslash class', MULTI, silence(m('namespace', 'team\\-\\w', true)), false],
    ['regex tenant: same pattern', REGEX_D, silence(m('namespace', 'tenant\\..+', true)), true],
    ['regex tenant: other pattern', REGEX_D, silence(m('namespace', 'tenant\\..*', true)), false],
    ['regex tenant: equality inside', REGEX_D, silence(m('namespace', 'tenant.x')), true],
    ['regex tenant: equality outside', REGEX_D, silence(m('namespace', 'tenantxd')), false],
    ['two constraints, both confined', TWO, silence(m('namespace', 'team-a'), m('cluster', 'c2')), true],
    ['two constraints, one confined', TWO, silence(m('namespace', 'team-a')), false],
  ];
  for (const [name, t, s, want] of table)
    it(`${t.id}: ${name} → ${want}`, () => assert.equal(silenceBelongsTo(s, t), want));
});

describe('filterSilences', () => {
  it("keeps the tenant's silences in order", () => {
    const body = [
      silence(m('namespace', 'team-a')),
      silence(m('namespace', 'tenant.d', true)),
      silence(m('namespace', 'tenant\\.d', true)),
      silence(m('namespace', 'tenant.d')),
    ];
    assert.deepEqual(filterSilences(body, TENANT_D), [body[2], body[3]]);
    assert.deepEqual(filterSilences(body, TEAM_A), [body[0]]);
  });
  it('throws PG_UPSTREAM_BAD_RESPONSE on a non-array or a non-object item', () => {
    assertCode(() => filterSilences({ silences: [] }, TEAM_A), 'PG_UPSTREAM_BAD_RESPONSE');
    assertCode(() => filterSilences([null], TEAM_A), 'PG_UPSTREAM_BAD_RESPONSE');
  });
});

describe('filterAmAlerts / filterAlertGroups (defence in depth)', () => {
  const al = (alertname: string, namespace: string): unknown => ({
    labels: { alertname, namespace },
    status: { state: 'active' },
    fingerprint: alertname,
  });
  it('drops foreign alerts and empty groups', () => {
    const groups = [
      { labels: { namespace: 'team-a' }, receiver: { name: 'r' }, alerts: [al('A', 'team-a'), al('X', 'tenantxd')] },
      { labels: {}, receiver: { name: 'r' }, alerts: [al('C', 'tenantxd')] },
    ];
    assert.deepEqual(filterAlertGroups(groups, TEAM_A), [{ ...groups[0], alerts: [al('A', 'team-a')] }]);
    assert.deepEqual(filterAmAlerts([al('A', 'team-a'), al('B', 'tenant.d'), al('C', 'tenantxd')], TENANT_D), [
      al('B', 'tenant.d'),
    ]);
  });
  for (const [name, fn] of [
    ['alerts not an array', () => filterAmAlerts({}, TEAM_A)],
    ['alert labels missing', () => filterAmAlerts([{ status: {} }], TEAM_A)],
    ['groups not an array', () => filterAlertGroups(null, TEAM_A)],
    ['group alerts missing', () => filterAlertGroups([{ labels: {} }], TEAM_A)],
    [
      'group alert labels not strings',
      () => filterAlertGroups([{ alerts: [{ labels: { namespace: ['team-a'] } }] }], TEAM_A),
    ],
  ] as [string, () => unknown][]) {
    it(`throws PG_UPSTREAM_BAD_RESPONSE: ${name}`, () => assertCode(fn, 'PG_UPSTREAM_BAD_RESPONSE'));
  }
});

describe('enforceSilenceBody', () => {
  const base = {
    startsAt: '2026-01-01T00:00:00Z',
    endsAt: '2026-01-02T00:00:00Z',
    createdBy: 'alice',
    comment: 'deploy',
  };
  const body = (...matchers: unknown[]): Record<string, unknown> => ({ ...base, matchers });
  const matchersOf = (b: unknown): unknown => (b as { matchers: unknown }).matchers;
  const tenantM = { name: 'namespace', value: 'team-a', isRegex: false, isEqual: true };

  it("appends the tenant matcher after the user's", () => {
    const out = enforceSilenceBody(body(m('alertname', 'A')), TEAM_A);
    assert.deepEqual(out, { ...base, matchers: [m('alertname', 'A'), tenantM] });
    assert.equal(silenceBelongsTo(out, TEAM_A), true);
  });
  it('adds nothing when a user matcher already confines the tenant label', () => {
    const input = body(m('namespace', 'team-a'), m('alertname', 'A'));
    assert.deepEqual(enforceSilenceBody(input, TEAM_A), input);
  });
  it('keeps a conflicting or wider user matcher and still appends (matchers are ANDed)', () => {
    assert.deepEqual(matchersOf(enforceSilenceBody(body(m('namespace', 'team-b')), TEAM_A)), [
      m('namespace', 'team-b'),
      tenantM,
    ]);
    assert.deepEqual(matchersOf(enforceSilenceBody(body(m('namespace', 'team-.*', true)), TEAM_A)), [
      m('namespace', 'team-.*', true),
      tenantM,
    ]);
  });
  it('appends regex matchers for multi-value and regex tenants, one per constraint', () => {
    assert.deepEqual(matchersOf(enforceSilenceBody(body(m('a', 'b')), MULTI)), [
      m('a', 'b'),
      m('namespace', 'team-a|tenant\\.d', true, true),
    ]);
    assert.deepEqual(matchersOf(enforceSilenceBody(body(m('a', 'b')), REGEX_D)), [
      m('a', 'b'),
      m('namespace', 'tenant\\..+', true, true),
    ]);
    assert.deepEqual(matchersOf(enforceSilenceBody(body(m('namespace', 'team-a')), TWO)), [
      m('namespace', 'team-a'),
      m('cluster', 'c2', false, true),
    ]);
  });
  it('keeps the id and the other fields, and does not modify its input', () => {
    const user = m('a', 'b');
    const input = { ...body(user), id: '8f23dd03-21fe-416a-9cca-7ed6eb529e97' };
    const copy = structuredClone(input);
    const out = enforceSilenceBody(input, TEAM_A);
    assert.deepEqual(out, { ...input, matchers: [user, tenantM] });
    assert.deepEqual(input, copy);
    assert.notEqual(out.matchers[0], user, "matchers are copies, not the client's objects");
  });
  it("refuses a field Alertmanager's PostableSilence does not have (it used to be forwarded)", () => {
    assertCode(() => enforceSilenceBody({ ...body(m('a', 'b')), extra: { x: 1 } }, TEAM_A), 'PG_BODY_UNKNOWN_KEY');
  });
  it('always yields a silence that belongs to the tenant (property)', () => {
    const tenants = [TEAM_A, TENANT_D, MULTI, REGEX_D, WEIRD_MULTI, TWO];
    const matcher = fc
      .record({
        name: fc.constantFrom('namespace', 'cluster', 'alertname'),
        value: fc.oneof(
          fc.constantFrom('team-a', 'tenant.d', 'tenant\\.d', 'team-a|tenant\\.d', '.*', 'c2', ''),
          fc.string(),
        ),
        isRegex: fc.boolean(),
        isEqual: fc.option(fc.boolean(), { nil: undefined }),
      })
      .map((x) => (x.isEqual === undefined ? { name: x.name, value: x.value, isRegex: x.isRegex } : x));
    fc.assert(
      fc.property(fc.array(matcher, { minLength: 1, maxLength: 5 }), fc.constantFrom(...tenants), (ms, t) =>
        silenceBelongsTo(enforceSilenceBody(body(...ms), t), t),
      ),
    );
  });
  const bad: [string, unknown][] = [
    ['null', null],
    ['an array', [body(m('a', 'b'))]],
    ['no matchers', { ...base }],
    ['empty matchers', body()],
    ['matchers not an array', { ...base, matchers: m('a', 'b') }],
    ['matcher without isRegex', body({ name: 'a', value: 'b' })],
    ['isRegex a string', body({ name: 'a', value: 'b', isRegex: 'true' })],
    ['value a number', body({ name: 'a', value: 1, isRegex: false })],
    ['isEqual null', body({ name: 'a', value: 'b', isRegex: false, isEqual: null })],
    ['matcher a string', body('a="b"')],
    ['startsAt missing', { ...body(m('a', 'b')), startsAt: undefined }],
    ['endsAt a number', { ...body(m('a', 'b')), endsAt: 1 }],
    ['createdBy missing', { ...body(m('a', 'b')), createdBy: undefined }],
    ['comment null', { ...body(m('a', 'b')), comment: null }],
    ['id not a UUID', { ...body(m('a', 'b')), id: '../silences' }],
  ];
  for (const [name, b] of bad)
    it(`rejects a malformed body with PG_BAD_BODY: ${name}`, () =>
      assertCode(() => enforceSilenceBody(b, TEAM_A), 'PG_BAD_BODY'));
});

describe('readSilence / decodeSilence / serializeSilence', () => {
  const times =
    '"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00Z","createdBy":"alice","comment":"deploy"';
  const bytes = (s: string): Buffer => Buffer.from(s);
  const ok = `{"matchers":[{"name":"a","value":"b","isRegex":false}],${times}}`;

  it('reads a silence into exactly the PostableSilence fields', () => {
    assert.deepStrictEqual(readSilence(bytes(ok)), {
      matchers: [{ name: 'a', value: 'b', isRegex: false }],
      startsAt: '2026-01-01T00:00:00Z',
      endsAt: '2026-01-02T00:00:00Z',
      createdBy: 'alice',
      comment: 'deploy',
    });
  });
  const refusals: [string, string | Buffer, ErrorCode][] = [
    [
      'duplicate top-level key',
      `{"matchers":[{"name":"a","value":"b","isRegex":false}],${times},"comment":"x"}`,
      'PG_BODY_DUPLICATE_KEY',
    ],
    [
      'duplicate key in a matcher',
      `{"matchers":[{"name":"a","value":"b","isRegex":false,"isRegex":true}],${times}}`,
      'PG_BODY_DUPLICATE_KEY',
    ],
    [
      'duplicate after unescaping',
      `{"matchers":[{"name":"a","value":"b","isRegex":false}],"\\u006datchers":[],${times}}`,
      'PG_BODY_DUPLICATE_KEY',
    ],
    ['case variant', `{"Matchers":[{"name":"a","value":"b","isRegex":false}],${times}}`, 'PG_BODY_UNKNOWN_KEY'],
    ['long s', `{"matcherſ":[{"name":"a","value":"b","isRegex":false}],${times}}`, 'PG_BODY_UNKNOWN_KEY'],
    [
      'ID',
      `{"ID":"8f23dd03-21fe-416a-9cca-7ed6eb529e97","matchers":[{"name":"a","value":"b","isRegex":false}],${times}}`,
      'PG_BODY_UNKNOWN_KEY',
    ],
    [
      'matcher key case variant',
      `{"matchers":[{"name":"a","value":"b","isRegex":false,"IsEqual":false}],${times}}`,
      'PG_BODY_UNKNOWN_KEY',
    ],
    [
      'invalid UTF-8',
      Buffer.concat([
        bytes('{"matchers":[{"name":"a","value":"'),
        Buffer.from([0xc3]),
        bytes(`","isRegex":false}],${times}}`),
      ]),
      'PG_BAD_BODY',
    ],
    ['lone surrogate', `{"matchers":[{"name":"a","value":"\\udc00","isRegex":false}],${times}}`, 'PG_BAD_BODY'],
    ['BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(ok)]), 'PG_BAD_BODY'],
    ['trailing data', `${ok}{}`, 'PG_BAD_BODY'],
    ['isEqual null', `{"matchers":[{"name":"a","value":"b","isRegex":false,"isEqual":null}],${times}}`, 'PG_BAD_BODY'],
    ['id null', `{"id":null,"matchers":[{"name":"a","value":"b","isRegex":false}],${times}}`, 'PG_BAD_BODY'],
  ];
  for (const [name, body, code] of refusals)
    it(`refuses ${name} with ${code}`, () =>
      assertCode(() => readSilence(typeof body === 'string' ? bytes(body) : body), code));

  it('decodeSilence refuses an own "__proto__" key as unknown', () => {
    assertCode(
      () =>
        decodeSilence(JSON.parse(`{"__proto__":{},"matchers":[{"name":"a","value":"b","isRegex":false}],${times}}`)),
      'PG_BODY_UNKNOWN_KEY',
    );
  });

  it('enforceSilence forwards the id it was given, unchanged (the id whose ownership was checked)', () => {
    const id = '8F23DD03-21fe-416a-9cca-7ed6eb529e97';
    const s = readSilence(bytes(`{"id":"${id}","matchers":[{"name":"a","value":"b","isRegex":false}],${times}}`));
    assert.equal(s.id, id);
    assert.equal(JSON.parse(serializeSilence(enforceSilence(s, TEAM_A))).id, id);
  });

  it('serializes exactly the PostableSilence fields, and reads back to the same value (property)', () => {
    const text = fc.string({ unit: 'grapheme' });
    const matcherArb = fc
      .record(
        { name: text, value: text, isRegex: fc.boolean(), isEqual: fc.option(fc.boolean(), { nil: undefined }) },
        { noNullPrototype: true },
      )
      .map((x): SilenceMatcher =>
        x.isEqual === undefined ? { name: x.name, value: x.value, isRegex: x.isRegex } : { ...x, isEqual: x.isEqual },
      );
    const silenceArb = fc
      .record(
        {
          id: fc.option(fc.uuid(), { nil: undefined }),
          matchers: fc.array(matcherArb, { minLength: 1, maxLength: 4 }),
          startsAt: text,
          endsAt: text,
          createdBy: text,
          comment: text,
        },
        { noNullPrototype: true },
      )
      .map((x): PostableSilence => {
        const { id, ...rest } = x;
        return id === undefined ? rest : { id, ...rest };
      });
    fc.assert(
      fc.property(silenceArb, (s) => {
        const json = serializeSilence(s);
        const keys = Object.keys(JSON.parse(json) as object).sort();
        assert.deepEqual(keys, [
          'comment',
          'createdBy',
          'endsAt',
          ...(s.id === undefined ? [] : ['id']),
          'matchers',
          'startsAt',
        ]);
        assert.deepStrictEqual(readSilence(Buffer.from(json)), s);
      }),
      { numRuns: 200 },
    );
  });
});

describe('silenceId', () => {
  const id = '8f23dd03-21fe-416a-9cca-7ed6eb529e97';
  it('returns the UUID of a silence path, with or without a route prefix', () => {
    assert.equal(silenceId(`/api/v2/silence/${id}`), id);
    assert.equal(silenceId(`/clusters/host/alertmanager/api/v2/silence/${id.toUpperCase()}`), id.toUpperCase());
  });
  for (const p of [
    '/api/v2/silence/nope',
    '/api/v2/silence/',
    `/api/v2/silence/${id}/`,
    `/api/v2/silence/${id}?x=1`,
    `/api/v2/silence/${id}x`,
    `/api/v2/silences/${id}`,
    `/api/v2/silence/../silence/${id}x`,
    `/api/v2/silence/${id.replace(/-/g, '')}`,
  ]) {
    it(`rejects ${p} with PG_BAD_REQUEST`, () => assertCode(() => silenceId(p), 'PG_BAD_REQUEST'));
  }
});
