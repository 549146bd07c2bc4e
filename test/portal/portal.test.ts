// The portal in-process: who may see which route, the tenant shown per route, escaping, and the headers of a strict page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';
import { startStub, type Stub } from '../helpers/upstream-stub.js';
import { makeTempDir, type TempDir } from '../e2e/harness/cleanup.js';
import { hmacKey, jwks, sign, type TestKey } from '../authn/jwt-helpers.js';
import { waitFor } from '../helpers/wait.js';

const XSS = `<img src=x onerror="alert(1)"> & 'q'`;

let gw: InProcessGateway;
let up: Stub;
let key: TestKey;
let tmp: TempDir;

before(async () => {
  tmp = makeTempDir('portal');
  key = hmacKey('k1');
  writeFileSync(tmp.file('jwks.json'), JSON.stringify(jwks(key)));
  writeFileSync(tmp.file('users.yaml'), 'users:\n  - username: carol\n    password: carol-pw\n    namespace: team-c\n');
  up = await startStub((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  const upstream = { url: up.url };
  gw = await startInProcess({
    config: {
      portal: { path: '/', title: 'Clusters' },
      routes: [
        {
          name: 'east',
          prefix: '/clusters/east/prometheus',
          description: `East cluster ${XSS}`,
          link: '/clusters/east/prometheus/graph',
          allowedGroups: ['east', 'ops'],
          upstream,
        },
        {
          name: 'west',
          prefix: '/clusters/west/prometheus',
          allowedGroups: ['ops'],
          upstream: { ...upstream, breaker: { failures: 3 } },
        },
        { name: 'secret', prefix: '/secret', hidden: true, upstream },
        { name: 'passwords-only', prefix: '/pw', authMethods: ['basic'], upstream },
        { name: 'wiki', prefix: '/wiki', description: 'A web app', upstream: { ...upstream, type: 'http' } },
      ],
      auth: { jwt: { jwks: tmp.file('jwks.json') }, basic: { usersFile: tmp.file('users.yaml') } },
      tenants: {
        rules: [
          { match: { groups: ['ops'] }, unrestricted: true },
          { match: { groups: ['east'] }, labels: { namespace: ['team-a', 'team-b'] } },
        ],
      },
    },
  });
  // The readiness probe has answered for every route: health is "up", not "unknown".
  await waitFor(async () => (await fetch(`${gw.url}/-/ready`)).status === 200, { what: 'promgate ready' });
});

after(async () => {
  await gw?.close();
  await up?.close();
  tmp?.remove();
});

const token = (claims: Record<string, unknown>) => sign(key, { sub: 's', ...claims });
const asBearer = async (claims: Record<string, unknown>) => ({ authorization: `Bearer ${await token(claims)}` });

interface View {
  title: string;
  user: { user: string; email?: string; groups: string[]; method: string };
  signOut?: string;
  routes: {
    name: string;
    description?: string;
    link: string;
    tenant: { unrestricted: boolean; matchers: string[] } | { refused: true } | null;
    health: { state: string; detail: string };
    circuit?: string;
  }[];
}

async function view(headers: Record<string, string>): Promise<View> {
  const r = await fetch(`${gw.url}/portal.json`, { headers });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  return (await r.json()) as View;
}

test('anonymous: the page is 401 with a Basic challenge, portal.json a 401 JSON error', async () => {
  const page = await fetch(`${gw.url}/`);
  assert.equal(page.status, 401);
  assert.match(page.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  const json = await fetch(`${gw.url}/portal.json`);
  assert.equal(json.status, 401);
  const body = (await json.json()) as Record<string, unknown>;
  assert.equal(body.status, 'error');
  assert.equal(body.code, 'PG_AUTHN_REQUIRED');
  // A bad credential is refused too, not shown as anonymous.
  const bad = await fetch(`${gw.url}/portal.json`, { headers: { authorization: 'Bearer not.a.token' } });
  assert.equal(bad.status, 401);
});

test('a member of "east" sees east only, with its tenant matchers and live health', async () => {
  const v = await view(await asBearer({ preferred_username: 'ann', email: 'ann@example.com', groups: ['east'] }));
  assert.deepEqual(v.user, { user: 'ann', email: 'ann@example.com', groups: ['east'], method: 'jwt' });
  assert.equal(v.title, 'Clusters');
  assert.equal(v.signOut, undefined, 'no sign-in session, no sign-out link');
  // east (group allowed), wiki (no allow-list); not west (ops only), secret (hidden), passwords-only (basic only).
  assert.deepEqual(
    v.routes.map((r) => r.name),
    ['east', 'wiki'],
  );
  const east = v.routes[0]!;
  assert.equal(east.link, '/clusters/east/prometheus/graph');
  assert.equal(east.description, `East cluster ${XSS}`);
  assert.deepEqual(east.tenant, { unrestricted: false, matchers: ['namespace=~"team-a|team-b"'] });
  assert.deepEqual(east.health, { state: 'up', detail: 'HTTP 200' });
  assert.equal(v.routes[1]!.tenant, null, 'a type: http app has no tenant');
  assert.equal(v.routes[1]!.link, '/wiki/', 'default link: the prefix with a trailing slash');
});

test('ops sees every listed route with "all series"; a caller with no tenant sees the route marked refused', async () => {
  const ops = await view(await asBearer({ preferred_username: 'olga', groups: ['ops'] }));
  // A route with a circuit breaker shows its state; one without has no circuit field.
  assert.deepEqual(
    ops.routes.map((r) => [r.name, r.circuit]),
    [
      ['east', undefined],
      ['west', 'closed'],
      ['wiki', undefined],
    ],
  );
  assert.deepEqual(
    ops.routes.map((r) => [r.name, r.tenant]),
    [
      ['east', { unrestricted: true, matchers: [] }],
      ['west', { unrestricted: true, matchers: [] }],
      ['wiki', null],
    ],
  );
  const nobody = await view(await asBearer({ preferred_username: 'ned', groups: [] }));
  assert.deepEqual(
    nobody.routes.map((r) => [r.name, r.tenant]),
    [['wiki', null]],
  );
});

test('basic auth: the route that accepts passwords only appears; the users-file tenant is shown', async () => {
  const v = await view({ authorization: `Basic ${Buffer.from('carol:carol-pw').toString('base64')}` });
  assert.equal(v.user.method, 'basic');
  assert.deepEqual(
    v.routes.map((r) => [r.name, r.tenant]),
    [
      ['passwords-only', { unrestricted: false, matchers: ['namespace="team-c"'] }],
      ['wiki', null],
    ],
  );
});

test('the page: strict CSP and security headers, landmarks, and every configured or claimed text escaped', async () => {
  const evilUser = `</strong><script>alert("u")</script>`;
  const r = await fetch(`${gw.url}/`, {
    headers: await asBearer({ preferred_username: evilUser, email: 'e@example.com', groups: ['east', '<b>g</b>'] }),
  });
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/]+=*'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|script-src/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const html = await r.text();
  assert.match(html, /<html lang="en">/);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  for (const landmark of ['<header>', '<main>', '<nav aria-label="Account">']) assert.ok(html.includes(landmark));
  // The style the hash allows is the one on the page.
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
  const { createHash } = await import('node:crypto');
  assert.ok(csp.includes(`'sha256-${createHash('sha256').update(style).digest('base64')}'`), 'hash matches');
  // No markup from outside: the user name, a group and the route description are text.
  assert.ok(!html.includes('<script'), 'no script element');
  assert.ok(!html.includes('<img'), 'no img element from the description');
  assert.ok(!html.includes('<b>g</b>'));
  assert.ok(html.includes('&#60;/strong&#62;&#60;script&#62;alert(&#34;u&#34;)&#60;/script&#62;'));
  assert.ok(html.includes('East cluster &#60;img src=x onerror=&#34;alert(1)&#34;&#62; &#38; &#39;q&#39;'));
  assert.ok(html.includes('href="/clusters/east/prometheus/graph"'));
  assert.ok(!html.includes('/clusters/west/'), 'no card for a route the caller may not open');
  assert.ok(!html.includes('/secret'), 'no card for a hidden route');
});

test('HEAD answers without a body; other methods 405; a hidden route is still served', async () => {
  const headers = await asBearer({ preferred_username: 'ann', groups: ['east'] });
  const head = await fetch(`${gw.url}/portal.json`, { method: 'HEAD', headers });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  const post = await fetch(`${gw.url}/portal.json`, { method: 'POST', headers });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal(((await post.json()) as { code: string }).code, 'PG_METHOD_NOT_ALLOWED');
  // hidden: not listed, but the route still forwards (to the stub's "ok" page via the endpoint table).
  const secret = await fetch(`${gw.url}/secret/graph`, { headers });
  assert.equal(secret.status, 200);
});
