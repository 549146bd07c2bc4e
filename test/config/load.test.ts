// Config loading: file + env + overrides, defaults, and errors that name the file, line, key and problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'promgate-cfg-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}
const BASE = `routes:\n  - upstream:\n      url: http://127.0.0.1:9090\nauth:\n  anonymous: true\n`;

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected a ConfigError');
}

test('defaults fill every section', () => {
  const c = loadConfig({ file: file(BASE) });
  assert.equal(c.server.port, 9092);
  assert.equal(c.server.maxQueryLength, 65536);
  assert.equal(c.routes[0]!.prefix, '/');
  assert.equal(c.routes[0]!.upstream.type, 'prometheus');
  assert.equal(c.routes[0]!.upstream.connectTimeout, 5000);
  assert.ok(Object.isFrozen(c.routes[0]!.upstream), 'config is frozen');
});

test('env overrides file, flags override env', () => {
  const f = file(BASE + 'server:\n  port: 1000\n  logLevel: warn\n');
  const env = {
    PROMGATE_SERVER__PORT: '2000',
    PROMGATE_SERVER__METRICS_PORT: '2001',
    PROMGATE_ROUTES__0__UPSTREAM__CONNECT_TIMEOUT: '2s',
  };
  const c = loadConfig({ file: f, env });
  assert.equal(c.server.port, 2000);
  assert.equal(c.server.metricsPort, 2001);
  assert.equal(c.server.logLevel, 'warn');
  assert.equal(c.routes[0]!.upstream.connectTimeout, 2000);
  const c2 = loadConfig({ file: f, env, overrides: { server: { port: 3000 } } });
  assert.equal(c2.server.port, 3000);
});

test('unknown key is named with its line and a suggestion', () => {
  const p = problems(() => loadConfig({ file: file(BASE + 'server:\n  prot: 9000\n') }));
  assert.equal(p.length, 1);
  assert.match(p[0]!, /c\d+\.yaml:7: server\.prot: unknown key "prot" \(did you mean "port"\?\)/);
});

test('upstream URL without a scheme names the key path and line', () => {
  const p = problems(() =>
    loadConfig({
      file: file(
        `routes:\n  - upstream:\n      url: prometheus:9090\n  - prefix: /b\n    upstream:\n      url: "localhost"\nauth: {anonymous: true}\n`,
      ),
    }),
  );
  assert.ok(
    p.some((x) => /:3: routes\[0\]\.upstream\.url: /.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /:6: routes\[1\]\.upstream\.url: not a URL: "localhost"/.test(x)),
    p.join('\n'),
  );
});

test('every problem is listed, not only the first', () => {
  const p = problems(() =>
    loadConfig({ file: file(`server:\n  port: "x"\n  logLevel: loud\nroutes: [{prefix: /a}]\n`) }),
  );
  assert.ok(p.length >= 3, p.join('\n'));
  assert.ok(p.some((x) => x.includes('server.port')));
  assert.ok(p.some((x) => x.includes('server.logLevel')));
  assert.ok(p.some((x) => x.includes('routes[0].upstream')));
});

test('no route is an error unless OIDC forward auth is all that is wanted', () => {
  const p = problems(() => loadConfig({ file: file('auth: {anonymous: true}\n') }));
  assert.match(p[0]!, /routes: at least one route is needed/);
  const c = loadConfig({
    file: file(
      'auth:\n  oidc: {issuerUrl: "https://idp.example.com", clientId: x, clientSecret: y, cookie: {secret: "0123456789abcdef0123456789abcdef"}}\n',
    ),
  });
  assert.equal(c.routes.length, 0);
});

test('unreadable file and invalid YAML are clear errors', () => {
  const p1 = problems(() => loadConfig({ file: join(dir, 'missing.yaml') }));
  assert.match(p1[0]!, /missing\.yaml: cannot read config file: ENOENT/);
  const p2 = problems(() => loadConfig({ file: file('routes: [\n  - a: b\n') }));
  assert.match(p2[0]!, /c\d+\.yaml:\d+:\d+: YAML error/);
  const p3 = problems(() => loadConfig({ file: file('- just\n- a list\n') }));
  assert.match(p3[0]!, /top level must be a mapping/);
});

test('secret files fill their keys; both set is an error', () => {
  const secret = join(dir, 'token');
  writeFileSync(secret, 's3cret\n');
  const c = loadConfig({
    file: file(
      `routes:\n  - upstream:\n      url: http://x:1\n      auth: {type: bearer, tokenFile: ${secret}}\nauth: {anonymous: true}\n`,
    ),
  });
  const a = c.routes[0]!.upstream.auth;
  assert.equal(a.type === 'bearer' ? a.token : undefined, 's3cret');
  const p = problems(() =>
    loadConfig({
      file: file(
        `routes:\n  - upstream:\n      url: http://x:1\n      auth: {type: bearer, token: a, tokenFile: ${secret}}\nauth: {anonymous: true}\n`,
      ),
    }),
  );
  assert.match(p[0]!, /routes\[0\]\.upstream\.auth\.tokenFile: set either token or tokenFile/);
});

test('semantic checks: duplicate prefixes, bad CIDR, no auth method', () => {
  const p = problems(() =>
    loadConfig({
      file: file(
        `server:\n  trustedProxies: [10.0.0.0/33]\nroutes:\n  - prefix: /a\n    upstream: {url: "http://x:1"}\n  - prefix: /a/\n    upstream: {url: "http://y:1"}\n`,
      ),
    }),
  );
  assert.ok(
    p.some((x) => /routes\[1\]\.prefix: prefix "\/a\/" is already used by routes\[0\]/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /server\.trustedProxies: bad prefix length/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /auth: no authentication method/.test(x)),
    p.join('\n'),
  );
});

test('a tenant regex that matches the empty string is refused at load', () => {
  const p = problems(() =>
    loadConfig({ file: file(BASE + 'tenants:\n  rules:\n    - regex: {namespace: "team-.*|"}\n') }),
  );
  assert.ok(
    p.some((x) => /tenants\.rules\[0\]\.regex\.namespace: .*matches the empty string/.test(x)),
    p.join('\n'),
  );
});

const regexRule = (pattern: string): string =>
  `${BASE}tenants:\n  rules:\n    - regex: {namespace: ${JSON.stringify(pattern)}}\n`;

test('the empty-string guard is computed as RE2 reads the pattern: [][a-z]* is refused', () => {
  // In Go's RE2 `[]…]` is a class that holds "]", so `[][a-z]*` matches "" and would admit every series
  // without the label; JavaScript reads `[]` as an empty class and finds no empty match.
  assert.equal(new RegExp('^(?:[][a-z]*)$', 'su').test(''), false, 'the JS reading this guard must not use');
  const p = problems(() => loadConfig({ file: file(regexRule('[][a-z]*')) }));
  assert.ok(
    p.some((x) =>
      /^[^:]*:\d+: tenants\.rules\[0\]\.regex\.namespace: regex "\[\]\[a-z\]\*" matches the empty string/.test(x),
    ),
    p.join('\n'),
  );
  // The control: a pattern RE2 reads as non-empty passes.
  loadConfig({ file: file(regexRule('[]a-z]+')) });
});

test("tenant regexes accept exactly what Go accepts: RE2-only syntax passes, JS-only syntax is refused with Go's error", () => {
  for (const ok of [
    '(?i)team-a',
    'team\\-a',
    '[[:alpha:]]+',
    '\\pL+',
    '\\p{Greek}+',
    '\\Q.*\\E',
    '(?P<t>team)-a',
    'team-a{,2}',
  ]) {
    loadConfig({ file: file(regexRule(ok)) });
  }
  const refused: [string, string][] = [
    ['(?=team)team-a', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ['(team)-\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
    ['[^]', 'error parsing regexp: missing closing ]: `[^]`'],
    ['team-a)|(b', 'error parsing regexp: unexpected ): `team-a)|(b`'],
    ['a++', 'error parsing regexp: invalid nested repetition operator: `++`'],
  ];
  for (const [pattern, error] of refused) {
    const p = problems(() => loadConfig({ file: file(regexRule(pattern)) }));
    const line = `tenants.rules[0].regex.namespace: not a valid Go (RE2) regex, which Prometheus and Alertmanager require: ${error}`;
    assert.ok(
      p.some((x) => x.endsWith(line)),
      `${pattern}:\n${p.join('\n')}`,
    );
  }
});

test('skip-auth and API routes must be Go regexes, as in oauth2-proxy', () => {
  const oidc = (extra: string) =>
    `auth:\n  oidc:\n    issuerUrl: "https://idp.example.com"\n    clientId: x\n    clientSecret: y\n    cookie: {secret: "0123456789abcdef0123456789abcdef"}\n${extra}`;
  const p = problems(() =>
    loadConfig({ file: file(oidc('    skipAuthRoutes: ["GET=^/(?!admin)"]\n    apiRoutes: ["^/api/[^]"]\n')) }),
  );
  assert.ok(
    p.some((x) =>
      /auth\.oidc\.skipAuthRoutes\[0\]: skip-auth-route "GET=\^\/\(\?!admin\)": not a valid Go \(RE2\) regex: error parsing regexp: invalid or unsupported Perl syntax/.test(
        x,
      ),
    ),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) =>
      /auth\.oidc\.apiRoutes\[0\]: not a valid Go \(RE2\) regex: error parsing regexp: missing closing \]/.test(x),
    ),
    p.join('\n'),
  );
});

test('PROMGATE_ variables that are not config paths (no __, not a section) are left alone', () => {
  const c = loadConfig({
    file: file(BASE),
    env: { PROMGATE_E2E_PROMETHEUS: '/usr/bin/prometheus', PROMGATE_PROPERTY_N: '5' },
  });
  assert.equal(c.server.port, 9092);
});

test('an env key that maps to nothing is reported with the variable name', () => {
  const p = problems(() => loadConfig({ file: file(BASE), env: { PROMGATE_SERVER__PROTT: '1' } }));
  assert.match(p[0]!, /env PROMGATE_SERVER__PROTT: server\.prott: unknown key "prott" \(did you mean "port"\?\)/);
});

test('__Host- and __Secure- cookie names need the attributes browsers require of them', () => {
  const oidc = (cookie: string) =>
    file(
      `auth:\n  oidc: {issuerUrl: "https://idp.example.com", clientId: x, clientSecret: y, cookie: {secret: "0123456789abcdef0123456789abcdef", ${cookie}}}\n`,
    );
  assert.equal(loadConfig({ file: oidc('name: __Host-promgate') }).auth.oidc?.cookie.name, '__Host-promgate');
  assert.match(
    problems(() => loadConfig({ file: oidc('name: __Host-promgate, secure: false') })).join('\n'),
    /auth\.oidc\.cookie\.secure: cookie name __Host-promgate needs secure: true/,
  );
  assert.match(
    problems(() => loadConfig({ file: oidc('name: __Host-promgate, domains: [example.com]') })).join('\n'),
    /auth\.oidc\.cookie\.domains: cookie name __Host-promgate needs path "\/" and no domains/,
  );
  assert.match(
    problems(() => loadConfig({ file: oidc('name: __Host-promgate, path: /app') })).join('\n'),
    /auth\.oidc\.cookie\.path: /,
  );
  assert.match(
    problems(() => loadConfig({ file: oidc('name: __Secure-promgate, secure: false') })).join('\n'),
    /auth\.oidc\.cookie\.secure: /,
  );
  assert.equal(
    loadConfig({ file: oidc('name: __Secure-promgate, domains: [example.com]') }).auth.oidc?.cookie.name,
    '__Secure-promgate',
  );
});
