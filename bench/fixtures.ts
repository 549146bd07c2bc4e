// Credentials and config files for the bench: bcrypt users files (5 and 10,000 users), an RS256 key with its JWKS, tenant policies.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { stringify } from 'yaml';

export const TENANT_NS = 'team-a';
export const PASSWORD = 'bench-password';

export interface Credentials {
  /** Authorization header values. */
  basic: string;
  admin: string;
  bearer: string;
  smallUsersFile: string;
  bigUsersFile: string;
  jwksFile: string;
  /** 1,000 tenant rules (for scenario g), and the admin rule alone. */
  bigRules: unknown[];
  smallRules: unknown[];
}

const basicHeader = (user: string): string => `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`;

export async function makeCredentials(dir: string, bigUsers: number, bigRuleCount: number): Promise<Credentials> {
  // One real bcrypt hash (cost 10) serves every user: the file's size and parsing cost are what g measures.
  const hash = bcrypt.hashSync(PASSWORD, 10);
  const small = [
    { username: 'alice', password: hash, namespace: TENANT_NS },
    { username: 'bob', password: hash, namespaces: ['team-b', 'team-c'] },
    { username: 'carol', password: hash, namespace: 'team-c' },
    { username: 'dave', password: hash, namespace: 'tenant.d' },
    { username: 'admin', password: hash },
  ];
  const big = [...small];
  for (let i = 0; i < bigUsers - small.length; i++)
    big.push({ username: `user-${i}`, password: hash, namespace: `ns-${i % 500}` });
  const smallUsersFile = join(dir, 'users-small.yaml');
  const bigUsersFile = join(dir, 'users-big.yaml');
  writeFileSync(smallUsersFile, stringify({ users: small }));
  writeFileSync(bigUsersFile, stringify({ users: big }));

  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const token = await new SignJWT({ preferred_username: 'alice', namespaces: [TENANT_NS] })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench' })
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);

  const admin = { name: 'admins', match: { users: ['admin'] }, unrestricted: true };
  const bigRules: unknown[] = [admin];
  for (let i = 0; i < bigRuleCount - 1; i++) {
    bigRules.push({
      name: `rule-${i}`,
      match: { users: [`user-${i}`], groups: [`group-${i % 50}`] },
      labels: { namespace: `ns-${i}` },
    });
  }
  return {
    basic: basicHeader('alice'),
    admin: basicHeader('admin'),
    bearer: `Bearer ${token}`,
    smallUsersFile,
    bigUsersFile,
    jwksFile,
    bigRules,
    smallRules: [admin],
  };
}

export interface GatewayConfig {
  upstream: string;
  usersFile: string;
  /** auth.jwt with this JWKS file; left out when absent (basic auth only, as examples/quickstart.yaml). */
  jwksFile?: string;
  rules: unknown[];
  workers?: number;
  /** auth.oidc block (scenario c): sessions are only configured where they are measured. */
  oidc?: Record<string, unknown>;
  /** Top-level limits section and upstream protections (scenario l). */
  limits?: Record<string, unknown>;
  upstreamExtra?: Record<string, unknown>;
}

/** promgate config YAML; the port is left as {{PORT}} for startPromgate. */
export function gatewayYaml(c: GatewayConfig): string {
  const routes: unknown[] = [{ name: 'prometheus', prefix: '/', upstream: { url: c.upstream, ...c.upstreamExtra } }];
  const cfg = {
    server: { host: '127.0.0.1', port: 0, workers: c.workers ?? 1, accessLog: true, logLevel: 'info' },
    routes,
    auth: {
      basic: { usersFile: c.usersFile },
      ...(c.jwksFile ? { jwt: { jwks: c.jwksFile } } : {}),
      ...(c.oidc ? { oidc: c.oidc } : {}),
    },
    tenants: { rules: c.rules },
    ...(c.limits ? { limits: c.limits } : {}),
  };
  return stringify(cfg).replace('port: 0', 'port: {{PORT}}');
}
