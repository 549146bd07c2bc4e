// A serving process loads only the packages its config uses (issue 16.1): basic auth alone never loads JWT, OIDC,
// Redis, argon2 or the cloud signers; configuring JWT loads jose. zod (the config schema) is loaded only by the
// short-lived child that checks the config, never by the serving process.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from './harness/cleanup.js';
import { promgateBuilt, REPO_ROOT, startPromgate } from './harness/promgate.js';

const HOOK = fileURLToPath(new URL('../helpers/trace-packages.mjs', import.meta.url));
const OPTIONAL = [
  'jose',
  'openid-client',
  'ioredis',
  '@node-rs/argon2',
  '@azure/identity',
  '@aws-sdk/credential-providers',
];

/** The packages the serving process loaded, and those the processes it started (the config child) loaded. */
async function packagesOf(auth: string): Promise<{ own: string[]; children: string[] }> {
  const gw = await startPromgate({
    configYaml: `server: {host: 127.0.0.1, port: {{PORT}}}
routes: [{prefix: /, upstream: {url: "http://127.0.0.1:9"}}]
auth: ${auth}
`,
    env: { NODE_OPTIONS: `--import ${HOOK}` },
  });
  try {
    const lines = gw.proc
      .stderrLines()
      .filter((l) => l.startsWith('PKG '))
      .map((l) => l.split(' '));
    const own = lines.filter(([, pid]) => Number(pid) === gw.proc.pid).map(([, , name]) => name!);
    const children = lines.filter(([, pid]) => Number(pid) !== gw.proc.pid).map(([, , name]) => name!);
    return { own, children };
  } finally {
    await gw.stop();
  }
}

test('basic auth alone loads none of the optional packages; JWT loads jose', { skip: !promgateBuilt() }, async () => {
  const users = join(REPO_ROOT, 'examples/users.yaml');
  const { own: basic, children } = await packagesOf(`{basic: {usersFile: ${users}}}`);
  assert.ok(basic.includes('undici') && basic.includes('bcryptjs'), `the hook sees packages: ${basic.join(' ')}`);
  for (const p of [...OPTIONAL, 'zod'])
    assert.ok(!basic.includes(p), `${p} loaded with basic auth alone: ${basic.join(' ')}`);
  // The control for zod: the config child, a process of its own, loaded it.
  assert.ok(children.includes('zod'), `the config child's packages: ${children.join(' ')}`);
  // The control: the same check sees jose once auth.jwt is configured.
  const dir = makeTempDir('lazy-modules');
  try {
    const key = { kty: 'oct', kid: 'k', k: Buffer.from('0123456789abcdef0123456789abcdef').toString('base64url') };
    writeFileSync(dir.file('jwks.json'), JSON.stringify({ keys: [key] }));
    const { own: jwt } = await packagesOf(`{jwt: {jwks: ${dir.file('jwks.json')}, algorithms: [HS256]}}`);
    assert.ok(jwt.includes('jose'), `jose not loaded with auth.jwt: ${jwt.join(' ')}`);
    assert.ok(!jwt.includes('openid-client'), 'openid-client only with auth.oidc');
  } finally {
    dir.remove();
  }
});
