// The one {{ }} template language: parsing, vocabulary checks per use site, rendering to nothing, and header
// values that can never carry CR, LF or NUL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateError, checkTemplate, parseTemplate, renderParts } from '../../src/lib/template.js';
import { HEADER_VOCAB, URL_VOCAB, templateProblem } from '../../src/config/templates.js';
import { compileValue, cookieValue, type TemplateRequest } from '../../src/upstream/directives.js';
import { compileUpstreamUrl } from '../../src/upstream/identity-upstream.js';
import { compileTemplate } from '../../src/tenancy/claims.js';
import { createTenantHeader } from '../../src/tenancy/tenant-header.js';
import type { Identity } from '../../src/authn/identity.js';
import { GatewayError } from '../../src/errors.js';
import { ConfigError } from '../../src/config/errors.js';

const id = (over: Partial<Identity> = {}): Identity => ({
  subject: 's1',
  user: 'alice',
  email: 'alice@example.com',
  groups: ['dev', 'ops'],
  claims: { team: 'red', roles: ['a', 'b'], bad: 'x\r\nInjected: 1', nul: 'a\0b' },
  method: 'jwt',
  tokens: { idToken: 'id.tok', accessToken: 'acc.tok' },
  ...over,
});
const req = (identity: Identity, cookie?: string): TemplateRequest => ({
  identity,
  incoming: cookie === undefined ? {} : { cookie },
  clientIp: () => '192.0.2.7',
});
const value = (text: string, r: TemplateRequest) => compileValue(text, { env: { ZONE: 'eu' } })(r);

test('the parser reads variables, paths, functions with quoted arguments and filter chains', () => {
  const parts = parseTemplate('Bearer {{ cookie "kubesphere-token" }} {{claims.a.b}} {{ groups | join "," | upper }}');
  assert.equal(parts[0], 'Bearer ');
  assert.deepEqual(parts[1], {
    name: 'cookie',
    path: undefined,
    args: ['kubesphere-token'],
    filters: [],
    source: '{{ cookie "kubesphere-token" }}',
  });
  assert.equal((parts[3] as { name: string; path?: string }).path, 'a.b');
  assert.deepEqual((parts[5] as { filters: unknown }).filters, [
    { name: 'join', args: [','] },
    { name: 'upper', args: [] },
  ]);
  assert.throws(() => parseTemplate('{{ user'), TemplateError);
  assert.throws(() => parseTemplate('{{ user }} }}'), TemplateError);
  assert.throws(() => parseTemplate('{{ cookie kubesphere-token }}x{{ "a" }}'), TemplateError);
});

test('each use site refuses what it does not know, naming it', () => {
  const problems: [string, RegExp][] = [
    ['{{ nosuch }}', /unknown variable \{\{ nosuch \}\}/],
    ['{{ user | shout }}', /unknown filter "shout"/],
    ['{{ groups }}', /groups is a list; join it/],
    ['{{ user | join "," }}', /join needs a list/],
    ['{{ cookie }}', /cookie takes 1/],
    ['{{ claims }}', /use claims.<name>/],
    ['{{ user.x }}', /takes no arguments or path/],
    ['{{ user | join }}', /join needs a list|takes 1/],
  ];
  for (const [text, re] of problems) assert.match(templateProblem(text, HEADER_VOCAB) ?? 'accepted', re, text);
  assert.equal(
    templateProblem('Bearer {{ cookie "t" }} {{ groups | join "," }} {{ env "X" }}', HEADER_VOCAB),
    undefined,
  );
  // URLs take single identity values only: no tokens, cookies, groups, files or environment.
  for (const t of ['{{ access_token }}', '{{ cookie "a" }}', '{{ groups | join "-" }}', '{{ env "X" }}'])
    assert.ok(templateProblem(`http://{{ user }}-${t}.svc`, URL_VOCAB), t);
  // Tenant rule labels and tenant headers keep their own syntax through the same parser.
  assert.deepEqual(compileTemplate('team-{{ group }}-{{ claims.x }}'), [
    'team-',
    { ref: 'group' },
    '-',
    { ref: 'claim', path: 'x' },
  ]);
  assert.throws(() => compileTemplate('{{ cookie "x" }}'), /unknown/);
  assert.throws(
    () => createTenantHeader({ name: 'X-Scope-OrgID', template: '{{ nosuch }}', allowFederation: false }),
    ConfigError,
  );
  assert.doesNotThrow(() =>
    createTenantHeader({ name: 'X-Scope-OrgID', template: 't-{{values.namespace}}', allowFederation: false }),
  );
  assert.throws(() => checkTemplate(parseTemplate('{{ values }}'), { variables: { values: 'path' } }), TemplateError);
});

test('header values: identity, tokens, cookies, client address, env, filters; nothing when any part is missing', () => {
  const r = req(id(), 'a=1; kubesphere-token=tok.en; b="quoted"');
  assert.equal(value('Bearer {{ cookie "kubesphere-token" }}', r), 'Bearer tok.en');
  assert.equal(value('{{ cookie "b" }}', r), 'quoted');
  assert.equal(value('{{ user }}/{{ email }}/{{ subject }}', r), 'alice/alice@example.com/s1');
  assert.equal(value('{{ groups | join "," }}', r), 'dev,ops');
  assert.equal(value('{{ claims.roles | join "+" | upper }}', r), 'A+B');
  assert.equal(value('{{ claims.team }}', r), 'red');
  assert.equal(value('{{ id_token }} {{ access_token }}', r), 'id.tok acc.tok');
  assert.equal(value('{{ client_ip }}', r), '192.0.2.7');
  assert.equal(value('{{ env "ZONE" }}-{{ user }}', r), 'eu-alice');
  // Nothing: a missing cookie, an unset variable, an empty group list, a list claim left unjoined.
  assert.equal(value('Bearer {{ cookie "kubesphere-token" }}', req(id())), undefined);
  assert.equal(value('{{ env "UNSET" }}', r), undefined);
  assert.equal(value('{{ groups | join "," }}', req(id({ groups: [] }))), undefined);
  assert.equal(value('{{ claims.nosuch }}', r), undefined);
  assert.equal(value('x {{ claims.roles }}', r), undefined);
  // Constants stay constants.
  assert.equal(value('fixed', r), 'fixed');
});

test('header values never carry CR, LF, NUL or control characters: such a value removes the header', () => {
  const r = req(id(), 'c=a\u0001b');
  assert.equal(value('{{ claims.bad }}', r), undefined);
  assert.equal(value('{{ claims.nul }}', r), undefined);
  assert.equal(value('x-{{ cookie "c" }}', r), undefined);
  // Control row: the same template with a clean claim passes.
  assert.equal(value('{{ claims.team }}', r), 'red');
  assert.throws(() => compileValue('a\r\nb', { env: {} }), TemplateError);
  assert.throws(() => compileValue('{{ env "X" }}', { env: { X: 'a\nb' } }), TemplateError);
  assert.throws(() => compileValue('{{ file "/nonexistent/x" }}', { env: {} }), /cannot read/);
  assert.throws(
    () => compileValue('{{ cookie "_oauth2_proxy_0" }}', { env: {}, sessionCookie: '_oauth2_proxy' }),
    /session cookie/,
  );
});

test('cookie values: the first of that exact name; names are not prefixes', () => {
  assert.equal(cookieValue('kubesphere-token2=x; kubesphere-token=y', 'kubesphere-token'), 'y');
  assert.equal(cookieValue('a=1', 'kubesphere-token'), undefined);
  assert.equal(cookieValue(undefined, 'a'), undefined);
});

test('URL templates: a DNS label checked before filters, lowercased; anything else is 403', () => {
  const url = compileUpstreamUrl('http://ide-{{ user | lower }}.ide.svc:8080');
  assert.equal(url(id({ user: 'Alice-1' })), 'http://ide-alice-1.ide.svc:8080');
  for (const bad of ['../x', 'evil.com#', 'a.b:1', '%2e', 'аlice', '\u212A', 'a_b', '', 'a'.repeat(64)]) {
    assert.throws(
      () => url(id({ user: bad })),
      (e: unknown) => e instanceof GatewayError && e.code === 'PG_UPSTREAM_IDENTITY_REFUSED',
      JSON.stringify(bad),
    );
  }
  assert.equal(compileUpstreamUrl('http://fixed:1')(id()), 'http://fixed:1');
});

test('renderParts gives nothing, never a partial value', () => {
  const parts = parseTemplate('a-{{ x }}-{{ y }}');
  assert.equal(
    renderParts(parts, (e) => (e.name === 'x' ? 'X' : undefined)),
    undefined,
  );
  assert.equal(
    renderParts(parts, (e) => e.name.toUpperCase()),
    'a-X-Y',
  );
});
