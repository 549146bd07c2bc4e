// `promgate check` and `promgate run` refuse the same configs with the same key paths, and accept the same valid one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { CONFIG_INVALID, ConfigError } from '../../src/config/errors.js';
import { loadCheckedConfig } from '../../src/wiring/load.js';
import { PROMGATE_ENTRY, REPO_ROOT, startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';

const USERS = `${REPO_ROOT}examples/users.yaml`;
const UP = 'upstream: {url: "http://127.0.0.1:1"}';
const ROUTE = `routes: [{${UP}}]`;
const ANON = 'auth: {anonymous: true}';
const SECRET = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const oidc = (extra: string, secret = SECRET) =>
  `auth:\n  oidc: {issuerUrl: "https://issuer.example", clientId: c, clientSecret: s, cookie: {secret: "${secret}"}${extra}}\n`;

/** Each row: a config (no server section; the test adds one) and the key path both commands must name. */
const BAD: { name: string; yaml: string; key: string }[] = [
  {
    name: 'unknown template variable in a tenant rule label',
    key: 'tenants.rules[0].labels.namespace',
    yaml: `${ROUTE}\n${ANON}\ntenants: {rules: [{labels: {namespace: "{{ nosuch }}"}}]}\n`,
  },
  {
    name: 'unbalanced template in a tenant rule label',
    key: 'tenants.rules[0].labels.team',
    yaml: `${ROUTE}\n${ANON}\ntenants: {rules: [{labels: {team: "{{ user"}}]}\n`,
  },
  {
    name: 'a label in both labels and regex',
    key: 'tenants.rules[0].labels.namespace',
    yaml: `${ROUTE}\n${ANON}\ntenants: {rules: [{labels: {namespace: a}, regex: {namespace: "b.+"}}]}\n`,
  },
  {
    name: 'unknown template in tenantHeader.template',
    key: 'routes[0].upstream.tenantHeader.template',
    yaml: `routes: [{upstream: {url: "http://127.0.0.1:1", tenantHeader: {name: X-Scope-OrgID, template: "{{ nosuch }}"}}}]\n${ANON}\n`,
  },
  {
    name: 'a bad skip-auth-route regex',
    key: 'auth.oidc.skipAuthRoutes[0]',
    yaml: `${ROUTE}\n${oidc(', skipAuthRoutes: ["GET=^/(x"]')}`,
  },
  { name: 'a too-short cookie secret', key: 'auth.oidc.cookie.secret[0]', yaml: `${ROUTE}\n${oidc('', 'short')}` },
  {
    name: 'a tenant regex that matches the empty string',
    key: 'tenants.rules[0].regex.namespace',
    yaml: `${ROUTE}\n${ANON}\ntenants: {rules: [{regex: {namespace: "a*"}}]}\n`,
  },
  {
    name: 'a users file that does not exist',
    key: 'auth.basic.usersFile',
    yaml: `${ROUTE}\nauth: {basic: {usersFile: /nonexistent/promgate-users.yaml}}\n`,
  },
  {
    name: 'aws upstream without region',
    key: 'routes[0].upstream.auth.region',
    yaml: `routes: [{upstream: {url: "https://aps.example", auth: {type: aws}}}]\n${ANON}\n`,
  },
  {
    name: 'two routes with the same prefix',
    key: 'routes[1].prefix',
    yaml: `routes:\n  - {prefix: /a, ${UP}}\n  - {prefix: /a/, ${UP}}\n${ANON}\n`,
  },
  {
    name: 'a fixed regexDotAll on a victoriametrics upstream',
    key: 'routes[0].upstream.regexDotAll',
    yaml: `routes: [{upstream: {url: "http://127.0.0.1:1", type: victoriametrics, regexDotAll: true}}]\n${ANON}\n`,
  },
  { name: 'a JWKS file that is not JSON', key: 'auth.jwt.jwks', yaml: `${ROUTE}\nauth: {jwt: {jwks: ${USERS}}}\n` },
  { name: 'the default portal path / over a route at /', key: 'portal.path', yaml: `${ROUTE}\n${ANON}\nportal: {}\n` },
  {
    name: 'a portal path equal to a route prefix (trailing slash aside)',
    key: 'portal.path',
    yaml: `routes: [{prefix: /clusters/east, ${UP}}]\n${ANON}\nportal: {path: /clusters/east/}\n`,
  },
  {
    name: "a portal whose portal.json is a route's prefix",
    key: 'portal.path',
    yaml: `routes: [{prefix: /home/portal.json, ${UP}}]\n${ANON}\nportal: {path: /home}\n`,
  },
  {
    name: 'a portal path under the sign-in endpoints',
    key: 'portal.path',
    yaml: `routes: [{prefix: /a, ${UP}}]\n${oidc('')}portal: {path: /oauth2/portal}\n`,
  },
  {
    name: 'a portal link to another host',
    key: 'routes[0].link',
    yaml: `routes: [{link: "//evil.example/x", ${UP}}]\n${ANON}\n`,
  },
  {
    name: 'a route description of two lines',
    key: 'routes[0].description',
    yaml: `routes: [{description: "one\\ntwo", ${UP}}]\n${ANON}\n`,
  },
  {
    name: 'a route without an upstream',
    key: 'routes[1].upstream',
    yaml: `routes:\n  - {prefix: /a, ${UP}}\n  - {prefix: /b}\n${ANON}\n`,
  },
  {
    name: 'a rewrite that is not a valid regex',
    key: 'routes[0].rewrite.regex',
    yaml: `routes: [{${UP}, rewrite: {regex: "^/(a", replacement: /b}}]\n${ANON}\n`,
  },
  {
    name: 'a header directive with an unknown variable',
    key: 'routes[0].headers.request.set.X-User',
    yaml: `routes: [{${UP}, headers: {request: {set: {X-User: "{{ nosuch }}"}}}}]\n${ANON}\n`,
  },
  {
    name: 'a header directive with an unknown filter',
    key: 'routes[0].headers.response.add.X-Groups',
    yaml: `routes: [{${UP}, headers: {response: {add: {X-Groups: '{{ groups | shout }}'}}}}]\n${ANON}\n`,
  },
  {
    name: 'a header directive reading a file that does not exist',
    key: 'routes[0].headers.request.set.X-Key',
    yaml: `routes: [{${UP}, headers: {request: {set: {X-Key: '{{ file "/nonexistent/promgate-key" }}'}}}}]\n${ANON}\n`,
  },
  {
    name: "a header directive handing promgate's session cookie upstream",
    key: 'routes[0].headers.request.set.X-S',
    yaml: `routes: [{${UP}, headers: {request: {set: {X-S: '{{ cookie "_oauth2_proxy" }}'}}}}]\n${oidc('')}`,
  },
  {
    name: 'stripPrefix on the root route',
    key: 'routes[0].stripPrefix',
    yaml: `routes: [{prefix: /, stripPrefix: true, ${UP}}]\n${ANON}\n`,
  },
  {
    name: 'an upstream URL template with an unknown variable',
    key: 'routes[0].upstream.url',
    yaml: `routes: [{upstream: {url: "http://ide-{{ nosuch }}.svc:8080"}}]\n${ANON}\n`,
  },
  {
    name: 'an upstream URL template in the port',
    key: 'routes[0].upstream.urls[0].url',
    yaml: `routes: [{upstream: {url: "http://a:1", urls: [{match: {users: [x]}, url: "http://h:{{ user }}"}]}}]\n${ANON}\n`,
  },
  {
    name: 'a route tenant rule with an unknown template variable',
    key: 'routes[0].tenants.rules[0].labels.namespace',
    yaml: `routes: [{${UP}, tenants: {rules: [{labels: {namespace: "{{ nosuch }}"}}]}}]\n${ANON}\n`,
  },
  {
    name: "a header directive that sets the route's tenant header",
    key: 'routes[0].headers.request.set.x-scope-orgid',
    yaml: `routes: [{upstream: {url: "http://127.0.0.1:1", tenantHeader: {name: X-Scope-OrgID}}, headers: {request: {set: {x-scope-orgid: "{{ user }}"}}}}]\n${ANON}\n`,
  },
  {
    name: "a header directive whose wildcard removes the route's tenant header",
    key: 'routes[0].headers.request.remove[0]',
    yaml: `routes: [{upstream: {url: "http://127.0.0.1:1", tenantHeader: {name: X-Scope-OrgID}}, headers: {request: {remove: ["X-Scope-*"]}}}]\n${ANON}\n`,
  },
  {
    name: "a response header directive that would hand the session's token to the browser",
    key: 'routes[0].headers.response.set.X-Token',
    yaml: `routes: [{${UP}, headers: {response: {set: {X-Token: "{{ access_token }}"}}}}]\n${ANON}\n`,
  },
  {
    name: 'a results cache on an identity-chosen upstream',
    key: 'routes[0].resultsCache.ttl',
    yaml: `routes: [{upstream: {url: "http://ide-{{ user }}.svc:1"}, resultsCache: {ttl: 5s}}]\n${ANON}\n`,
  },
];

const CONTROL = `routes: [{upstream: {url: "http://127.0.0.1:1", tenantHeader: {name: X-Scope-OrgID, template: "t-{{values.namespace}}"}}}]
auth: {anonymous: true, basic: {usersFile: ${USERS}}}
tenants: {rules: [{match: {users: ["*"]}, labels: {namespace: "{{ user }}"}}]}
portal: {path: /portal, title: Clusters}
`;

// No region may come from the environment of the machine running the tests.
const ENV = { ...process.env, AWS_REGION: '', AWS_DEFAULT_REGION: '' };

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [PROMGATE_ENTRY, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: ENV,
    timeout: 20_000,
  });
  return { code: r.status, err: r.stderr };
}

/** The key paths a refusal names: every `file.yaml[:line]: key.path: …` problem. */
function keysOf(stderr: string): string[] {
  return [...stderr.matchAll(/\.yaml(?::\d+)?: (\S+): /g)].map((m) => m[1]!).sort();
}

test('check and run refuse every bad config with the same key paths; loading names them with PG_CONFIG_INVALID', () => {
  const dir = makeTempDir('check-run');
  try {
    for (const [i, row] of BAD.entries()) {
      const file = dir.file(`bad-${i}.yaml`);
      writeFileSync(file, `server: {host: 127.0.0.1, port: 0}\n${row.yaml}`);
      assert.throws(
        () => loadCheckedConfig({ file, env: ENV }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, row.name);
          assert.equal(e.code, CONFIG_INVALID, row.name);
          assert.ok(e.keys.includes(row.key), `${row.name}: ${e.keys.join(', ')}`);
          return true;
        },
      );
      const check = cli(['check', '--config', file]);
      const run = cli(['run', '--config', file]);
      assert.notEqual(check.code, 0, `check accepted: ${row.name}`);
      assert.notEqual(run.code, 0, `run accepted: ${row.name}`);
      assert.ok(keysOf(check.err).includes(row.key), `${row.name}: check said ${check.err}`);
      assert.deepEqual(keysOf(run.err), keysOf(check.err), `${row.name}: run said ${run.err}`);
    }
  } finally {
    dir.remove();
  }
});

test('check and run both accept the control config', async () => {
  const dir = makeTempDir('check-run');
  try {
    const file = dir.file('good.yaml');
    writeFileSync(file, `server: {host: 127.0.0.1, port: 0}\n${CONTROL}`);
    const check = cli(['check', '--config', file]);
    assert.equal(check.code, 0, check.err);
    const pg = await startPromgate({
      configYaml: `server: {host: 127.0.0.1, port: {{PORT}}}\n${CONTROL}`,
      env: { AWS_REGION: '', AWS_DEFAULT_REGION: '' },
    });
    const exit = await pg.stop();
    assert.equal(exit.code, 0, pg.logs());
  } finally {
    dir.remove();
  }
});
