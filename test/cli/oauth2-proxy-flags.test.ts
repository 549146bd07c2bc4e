// oauth2-proxy flags and OAUTH2_PROXY_* variables: mapping, precedence, lists, booleans, unsupported and invalid options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOauth2ProxyOptions, splitList } from '../../src/cli/oauth2-proxy-flags.js';
import { authSchema } from '../../src/config/schema-auth.js';

test('a typical ingress-nginx deployment (flags) maps onto auth.oidc and validates', () => {
  const r = parseOauth2ProxyOptions(
    [
      '--provider=oidc',
      '--oidc-issuer-url',
      'https://dex.example.com',
      '--client-id=kubernetes',
      '--client-secret=s3cret',
      '--cookie-secret=0123456789abcdef0123456789abcdef',
      '--cookie-domain=.example.com',
      '--cookie-domain',
      '.example.org',
      '--cookie-refresh=9m',
      '--cookie-expire=24h',
      '--cookie-samesite=Lax',
      '--cookie-secure=false',
      '--email-domain=*',
      '--allowed-group=admins,ops',
      '--scope=openid profile groups offline_access email',
      '--whitelist-domain=.example.com:*',
      '--upstream=http://127.0.0.1:9090',
      '--http-address=0.0.0.0:4180',
      '--reverse-proxy',
      '--set-xauthrequest',
      '--set-authorization-header=true',
      '--pass-access-token',
      '--skip-jwt-bearer-tokens',
      '--extra-jwt-issuers=https://a.example.com=aud1',
      '--skip-auth-route=GET=^/public',
      '--skip-auth-route',
      '^/healthz$',
      '--api-route=^/api/',
      '--code-challenge-method=S256',
      '--session-store-type=redis',
      '--redis-connection-url=redis://r:6379',
      '--proxy-prefix=/auth',
      '--oidc-groups-claim=roles',
      '--oidc-email-claim=mail',
      'run',
      '--config',
      'promgate.yaml',
      '--log-level=debug',
    ],
    {},
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.unsupported, []);
  assert.deepEqual(
    r.rest,
    ['run', '--config', 'promgate.yaml', '--log-level=debug'],
    "promgate's own --config is left alone",
  );
  assert.deepEqual(r.server, { host: '0.0.0.0', port: 4180, trustedProxies: ['0.0.0.0/0', '::/0'] });
  assert.equal(r.upstream, 'http://127.0.0.1:9090');
  assert.deepEqual(r.oidc.cookie, {
    secret: ['0123456789abcdef0123456789abcdef'],
    domains: ['.example.com', '.example.org'],
    refresh: '9m',
    expire: '24h',
    sameSite: 'lax',
    secure: false,
  });
  assert.deepEqual(r.oidc.allowedGroups, ['admins', 'ops']);
  assert.deepEqual(r.oidc.scopes, ['openid', 'profile', 'groups', 'offline_access', 'email']);
  assert.deepEqual(r.oidc.skipAuthRoutes, ['GET=^/public', '^/healthz$']);
  assert.equal(r.oidc.setAuthorizationHeader, true);
  assert.equal(r.oidc.sessionStore, 'redis');
  const cfg = authSchema.parse({ oidc: r.oidc }).oidc!;
  assert.equal(cfg.cookie.refresh, 9 * 60_000);
  assert.equal(cfg.proxyPrefix, '/auth');
  assert.equal(cfg.groupsClaim, 'roles');
  assert.equal(cfg.emailClaim, 'mail');
  assert.equal(cfg.userClaim, 'sub', 'as oauth2-proxy: the user is the subject');
  assert.equal(cfg.skipProviderButton, false);
});

test('user and email claims as oauth2-proxy has them; --skip-provider-button', () => {
  const r = parseOauth2ProxyOptions(
    ['--oidc-issuer-url=https://idp', '--user-id-claim=upn', '--skip-provider-button'],
    {},
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.unsupported, []);
  const cfg = authSchema.parse({
    oidc: { ...r.oidc, clientId: 'c', cookie: { secret: ['0123456789abcdef0123456789abcdef'] } },
  }).oidc!;
  assert.equal(cfg.emailClaim, 'upn', "--user-id-claim is oauth2-proxy's deprecated alias of --oidc-email-claim");
  assert.equal(cfg.userClaim, 'sub');
  assert.equal(cfg.skipProviderButton, true);
  // The native config keeps its own default when no oauth2-proxy option is given.
  assert.equal(parseOauth2ProxyOptions(['run'], {}).oidc.userClaim, undefined);
  assert.equal(
    authSchema.parse({
      oidc: { issuerUrl: 'https://idp', clientId: 'c', cookie: { secret: ['0123456789abcdef0123456789abcdef'] } },
    }).oidc!.userClaim,
    'preferred_username',
  );
});

test('OAUTH2_PROXY_* variables: plural names for lists, comma-separated; flags win over the environment', () => {
  const env = {
    OAUTH2_PROXY_PROVIDER: 'oidc',
    OAUTH2_PROXY_OIDC_ISSUER_URL: 'https://idp.example.com/realms/x',
    OAUTH2_PROXY_CLIENT_ID: 'from-env',
    OAUTH2_PROXY_COOKIE_SECRET: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=',
    OAUTH2_PROXY_EMAIL_DOMAINS: 'example.com,example.org',
    OAUTH2_PROXY_ALLOWED_GROUPS: 'g1,g2',
    OAUTH2_PROXY_WHITELIST_DOMAINS: '.example.com',
    OAUTH2_PROXY_UPSTREAMS: 'http://prometheus:9090',
    OAUTH2_PROXY_COOKIE_DOMAINS: '.example.com',
    OAUTH2_PROXY_SKIP_AUTH_ROUTES: 'GET=^/a,^/b',
    OAUTH2_PROXY_API_ROUTES: '^/api/',
    OAUTH2_PROXY_EXTRA_JWT_ISSUERS: 'https://i1=a1,https://i2=a2',
    OAUTH2_PROXY_SET_XAUTHREQUEST: 'true',
    OAUTH2_PROXY_COOKIE_REFRESH: '1h',
    OAUTH2_PROXY_SILENCE_PING_LOGGING: 'true',
    PATH: '/usr/bin',
  };
  const r = parseOauth2ProxyOptions(['--client-id=from-flag', '--email-domain=flag.com'], env);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.unsupported, []);
  assert.deepEqual(r.ignored, ['OAUTH2_PROXY_SILENCE_PING_LOGGING']);
  assert.equal(r.oidc.clientId, 'from-flag');
  assert.deepEqual(r.oidc.emailDomains, ['flag.com'], 'a flag list replaces the environment list');
  assert.deepEqual(r.oidc.allowedGroups, ['g1', 'g2']);
  assert.deepEqual(r.oidc.skipAuthRoutes, ['GET=^/a', '^/b']);
  assert.deepEqual(r.oidc.extraJwtIssuers, ['https://i1=a1', 'https://i2=a2']);
  assert.deepEqual(r.oidc.cookie?.domains, ['.example.com']);
  assert.equal(r.upstream, 'http://prometheus:9090');
  assert.equal(r.oidc.setXAuthRequest, true);
});

test('unsupported oauth2-proxy options are reported by name and their values consumed', () => {
  const r = parseOauth2ProxyOptions(
    [
      '--github-org',
      'acme',
      '--banner=hi',
      '--custom-templates-dir',
      '/t',
      '--htpasswd-file=/h',
      '--ssl-insecure-skip-verify=true',
      '--request-logging=false',
      'run',
    ],
    { OAUTH2_PROXY_GOOGLE_GROUPS: 'x', OAUTH2_PROXY_MADE_UP_OPTION: 'y' },
  );
  assert.deepEqual(
    r.unsupported.sort(),
    [
      '--banner',
      '--custom-templates-dir',
      '--github-org',
      '--htpasswd-file',
      '--ssl-insecure-skip-verify',
      'OAUTH2_PROXY_GOOGLE_GROUPS',
      'OAUTH2_PROXY_MADE_UP_OPTION',
    ].sort(),
  );
  assert.deepEqual(r.ignored, ['--request-logging']);
  assert.deepEqual(r.rest, ['run']);
});

test('invalid values become errors: provider, PKCE method, booleans, durations, addresses, upstreams', () => {
  const r = parseOauth2ProxyOptions(
    [
      '--provider=github',
      '--code-challenge-method=plain',
      '--cookie-secure=maybe',
      '--cookie-expire=forever',
      '--http-address=unix:///tmp/s',
      '--upstream=file:///var/www',
      '--session-store-type=memcached',
      '--cookie-samesite=sideways',
      '--cookie-httponly=false',
      '--client-id',
    ],
    {},
  );
  assert.equal(r.errors.length, 10, r.errors.join('\n'));
  assert.match(r.errors.join('\n'), /--provider=github/);
  assert.match(r.errors.join('\n'), /S256/);
  assert.match(r.errors.join('\n'), /--client-id: missing value/);
  const two = parseOauth2ProxyOptions(['--upstream=http://a', '--upstream=http://b'], {});
  assert.match(two.errors[0]!, /one upstream/);
});

test('booleans follow Go: --flag, --flag=false, 1/0, t/f; a bare next word is not a boolean value', () => {
  const r = parseOauth2ProxyOptions(
    ['--pass-user-headers=false', '--pass-access-token=1', '--set-xauthrequest=T', '--skip-jwt-bearer-tokens', 'false'],
    {},
  );
  assert.equal(r.oidc.passUserHeaders, false);
  assert.equal(r.oidc.passAccessToken, true);
  assert.equal(r.oidc.setXAuthRequest, true);
  assert.equal(r.oidc.skipJwtBearerTokens, true);
  assert.deepEqual(r.rest, ['false']);
  const single = parseOauth2ProxyOptions(['-client-id=x', '-cookie-secure=false'], {});
  assert.equal(single.oidc.clientId, 'x', 'old single-dash spelling');
  assert.deepEqual(parseOauth2ProxyOptions(['--', '--client-id=x'], {}).rest, ['--', '--client-id=x']);
});

test('authenticated-emails-file is read into allowedEmails; CSV quoting protects commas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-emails-'));
  try {
    const f = join(dir, 'emails');
    writeFileSync(f, 'a@example.com\n# comment\n\nb@example.org\n');
    assert.deepEqual(parseOauth2ProxyOptions([`--authenticated-emails-file=${f}`], {}).oidc.allowedEmails, [
      'a@example.com',
      'b@example.org',
    ]);
    assert.match(
      parseOauth2ProxyOptions([`--authenticated-emails-file=${join(dir, 'missing')}`], {}).errors[0]!,
      /ENOENT/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(splitList('a,"^/x{1,3}$",b'), ['a', '^/x{1,3}$', 'b']);
});

test('GHSA-5hvv-m4w4-gf6v: the health-check User-Agent options are not implemented (no User-Agent skips authentication)', () => {
  const r = parseOauth2ProxyOptions(['--ping-user-agent=GoogleHC/1.0', '--gcp-healthchecks', 'run'], {});
  assert.deepEqual(r.unsupported.sort(), ['--gcp-healthchecks', '--ping-user-agent']);
  // The control: a supported option is not reported.
  assert.deepEqual(parseOauth2ProxyOptions(['--reverse-proxy', 'run'], {}).unsupported, []);
});
