// The Helm chart and the plain manifests: rendered by a real helm for each mode, schema-checked, and their promgate config accepted by `promgate check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { makeTempDir, PROMGATE_ENTRY, REPO_ROOT } from '../e2e/harness/index.js';
import { parseDuration } from '../../src/config/duration.js';

// ---- tools ------------------------------------------------------------------------------------------------------

const tools = spawnSync('bash', [join(REPO_ROOT, 'scripts/deploy-tools.sh')], { encoding: 'utf8', timeout: 3_600_000 });
const toolPath = (name: string): string => new RegExp(`^${name}=(.*)$`, 'm').exec(tools.stdout)?.[1] ?? '';
// Only a missing Go toolchain skips; a failed build fails the tests below.
const skip = tools.status === 3 ? `skipped: ${tools.stderr.trim()}` : false;
const HELM = toolPath('HELM');
const KUBESCHEMA = toolPath('KUBESCHEMA');
const CHART = join(REPO_ROOT, 'deploy/helm/promgate');
const MODES = [
  'multi-tenant',
  'oauth2-proxy-nginx',
  'oauth2-proxy-traefik',
  'sidecar-managed-prometheus',
  'sidecar-managed-prometheus-aws',
] as const;

// ---- helpers ----------------------------------------------------------------------------------------------------

/** A Kubernetes object as rendered; `spec` is narrowed where a test reads it. */
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface Probe {
  httpGet: { path: string; port: string };
}
interface Container {
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  resources: { requests: { cpu?: string; memory?: string }; limits: { memory?: string } };
  securityContext: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities: { drop: string[] };
    seccompProfile: { type: string };
  };
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName: string;
  containers: Container[];
  volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
  securityContext: { runAsNonRoot?: boolean; seccompProfile: { type: string } };
  terminationGracePeriodSeconds: number;
}
interface DeploymentSpec {
  template: { metadata: { annotations: Record<string, string>; labels: Record<string, string> }; spec: PodSpec };
}
/** promgate's config as rendered (the parts the tests read). */
interface RenderedConfig {
  server: { shutdownTimeout: string; metricsPort: number };
  routes: { prefix: string; upstream: { url: string; auth?: { type: string; tokenFile?: string; region?: string } } }[];
  auth: {
    anonymous?: boolean;
    basic?: { usersFile: string };
    oidc?: { clientSecretFile: string; cookie: { secretFile: string } };
  };
}
const spec = <T>(o: Obj): T => o.spec as T;
const podOf = (objs: Obj[]): PodSpec => spec<DeploymentSpec>(one(objs, 'Deployment')).template.spec;
const configOf = (objs: Obj[]): RenderedConfig =>
  parseYaml(one(objs, 'ConfigMap').data!['promgate.yaml']!) as RenderedConfig;

function toolsOk(): void {
  assert.equal(tools.status, 0, `scripts/deploy-tools.sh failed:\n${tools.stderr}`);
}

function helm(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(HELM, args, {
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: '/tmp/promgate-helm-cache',
      HELM_CONFIG_HOME: '/tmp/promgate-helm-config',
      HELM_DATA_HOME: '/tmp/promgate-helm-data',
    },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function render(valuesFiles: string[], set: string[] = []): { text: string; objs: Obj[] } {
  const r = helm([
    'template',
    'pg',
    CHART,
    '--namespace',
    'monitoring',
    ...valuesFiles.flatMap((f) => ['-f', f]),
    ...set.flatMap((s) => ['--set', s]),
  ]);
  assert.equal(r.code, 0, r.err);
  const objs = parseAllDocuments(r.out)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  return { text: r.out, objs };
}

function renderFails(set: string[], valuesFiles: string[] = []): string {
  const r = helm([
    'template',
    'pg',
    CHART,
    ...valuesFiles.flatMap((f) => ['-f', f]),
    ...set.flatMap((s) => ['--set', s]),
  ]);
  assert.notEqual(r.code, 0, `expected the render to fail with ${set.join(' ')}`);
  return r.err;
}

const example = (mode: string): string => join(CHART, 'examples', `${mode}.yaml`);
const one = (objs: Obj[], kind: string): Obj => {
  const xs = objs.filter((o) => o.kind === kind);
  assert.equal(xs.length, 1, `one ${kind}`);
  return xs[0]!;
};

function schemaCheck(text: string): string[] {
  const r = spawnSync(KUBESCHEMA, [], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `kubeschema:\n${r.stdout}${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('UNKNOWN'));
}

/** Every path-like value ending in File under the config, e.g. auth.basic.usersFile. */
function filePaths(v: unknown, out: string[] = []): string[] {
  if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      if (/File$/.test(k) && typeof x === 'string') out.push(x);
      else filePaths(x, out);
    }
  return out;
}

/**
 * What the pod would see: the ConfigMap's promgate.yaml and each mounted Secret written under a temp root, the
 * config's /etc/promgate paths pointed there; then `promgate check` must accept it.
 */
function checkConfigAsMounted(objs: Obj[], secretValues: Record<string, string> = {}): void {
  const tmp = makeTempDir('helm-check');
  try {
    const pod = podOf(objs);
    const container = pod.containers[0]!;
    const config = one(objs, 'ConfigMap');
    const mounts = container.volumeMounts;
    for (const m of mounts) {
      const vol = pod.volumes.find((v) => v.name === m.name)!;
      const dir = join(tmp.path, m.mountPath);
      mkdirSync(dir, { recursive: true });
      let data: Record<string, string> = {};
      if (vol.configMap)
        data = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap!.name)!.data!;
      else if (vol.secret) {
        const s = objs.find((o) => o.kind === 'Secret' && o.metadata.name === vol.secret!.secretName);
        // An existingSecret is the operator's; stand in plausible keys for it.
        data = s?.stringData ?? {
          'client-secret': 'x',
          'cookie-secret': '0123456789abcdef0123456789abcdef',
          'users.yaml': 'users: []\n',
          token: 't',
        };
      }
      for (const [k, v] of Object.entries(data))
        writeFileSync(join(dir, k), v.replaceAll('/etc/promgate/', `${tmp.path}/etc/promgate/`));
    }
    const cfgPath = container.args[container.args.indexOf('--config') + 1]!;
    const cfg = parseYaml(config.data!['promgate.yaml']!) as Record<string, unknown>;
    for (const p of filePaths(cfg))
      assert.ok(
        mounts.some((m) => p.startsWith(m.mountPath + '/')),
        `${p} lies in a mounted volume`,
      );
    // Plain values as rendered; values from a Secret the chart does not render come from secretValues.
    const env = Object.fromEntries(
      container.env.map((e) => [
        e.name,
        e.value ?? secretValues[e.name] ?? assert.fail(`no stand-in value for ${e.name}`),
      ]),
    );
    const r = spawnSync(process.execPath, [PROMGATE_ENTRY, 'check', '--config', join(tmp.path, cfgPath)], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
    });
    assert.equal(r.status, 0, `promgate check of the rendered config:\n${r.stderr}\n${config.data!['promgate.yaml']}`);
  } finally {
    tmp.remove();
  }
}

const ingressPaths = (objs: Obj[]) =>
  spec<{ rules: { http: { paths: { path: string; backend: { service: { port: { name: string } } } }[] } }[] }>(
    one(objs, 'Ingress'),
  ).rules[0]!.http.paths;
const netpolIngress = (objs: Obj[]) => spec<{ ingress: { from?: unknown[] }[] }>(one(objs, 'NetworkPolicy')).ingress;

function assertHardened(objs: Obj[]): void {
  const pod = podOf(objs);
  const c = pod.containers[0]!;
  assert.match(c.image, /^ghcr\.io\/promgate\/promgate:0\.1\.0$/);
  assert.deepEqual([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/-/healthy', 'http']);
  assert.deepEqual([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port], ['/-/ready', 'http']);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, 'resources');
  assert.ok(
    c.volumeMounts.some((m) => m.mountPath === '/tmp'),
    'a writable /tmp beside the read-only root',
  );
  const cfg = configOf(objs);
  const drainS = parseDuration(cfg.server.shutdownTimeout)! / 1000;
  assert.ok(
    pod.terminationGracePeriodSeconds > drainS,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > shutdownTimeout ${drainS}s`,
  );
  const svc = one(objs, 'Service');
  assert.deepEqual(
    spec<{ ports: { name: string }[] }>(svc)
      .ports.map((p) => p.name)
      .sort(),
    ['http', 'metrics'],
  );
}

// ---- tests ------------------------------------------------------------------------------------------------------

test('helm lint --strict passes for every mode', { skip }, () => {
  toolsOk();
  for (const m of MODES) {
    const r = helm(['lint', '--strict', CHART, '-f', example(m)]);
    assert.equal(r.code, 0, `${m}: ${r.out}${r.err}`);
  }
});

for (const mode of MODES) {
  test(`${mode}: rendered objects are hardened, schema-valid, and their config passes promgate check`, { skip }, () => {
    toolsOk();
    const { text, objs } = render([example(mode)]);
    assertHardened(objs);
    const unknown = schemaCheck(text);
    assert.deepEqual(
      unknown,
      mode === 'oauth2-proxy-traefik' ? ['UNKNOWN traefik.io/v1alpha1 Middleware/pg-promgate'] : [],
      'only the Traefik CRD lacks Go types here',
    );
    checkConfigAsMounted(objs, { PROMGATE_AUTH__OIDC__REDIS_URL: 'redis://127.0.0.1:6379/0' });
  });
}

test(
  'multi-tenant: routes, users Secret mounted where usersFile points, Ingress, ServiceMonitor on the metrics port, NetworkPolicy',
  { skip },
  () => {
    toolsOk();
    const { objs } = render([example('multi-tenant')]);
    const cfg = configOf(objs);
    assert.equal(cfg.auth.basic?.usersFile, '/etc/promgate/users/users.yaml');
    assert.deepEqual(
      cfg.routes.map((r) => r.prefix),
      ['/', '/alertmanager'],
    );
    assert.equal(cfg.server.metricsPort, 9100);
    assert.equal(ingressPaths(objs)[0]!.backend.service.port.name, 'http', 'the Ingress never exposes /metrics');
    assert.equal(spec<{ endpoints: { port: string }[] }>(one(objs, 'ServiceMonitor')).endpoints[0]!.port, 'metrics');
    assert.equal(netpolIngress(objs).length, 2);
    assert.ok(one(objs, 'PodDisruptionBudget'));
  },
);

test(
  'oauth2-proxy behind ingress-nginx: forward-auth only, Redis sessions from a Secret, /oauth2 on the Ingress',
  { skip },
  () => {
    toolsOk();
    const { objs } = render([example('oauth2-proxy-nginx')]);
    const cfg = configOf(objs);
    assert.deepEqual(cfg.routes, []);
    assert.equal(cfg.auth.oidc?.clientSecretFile, '/etc/promgate/oidc/client-secret');
    assert.equal(cfg.auth.oidc?.cookie.secretFile, '/etc/promgate/oidc/cookie-secret');
    const env = podOf(objs).containers[0]!.env;
    assert.deepEqual(env.find((e) => e.name === 'PROMGATE_AUTH__OIDC__REDIS_URL')?.valueFrom?.secretKeyRef, {
      name: 'promgate-redis',
      key: 'redis-url',
    });
    assert.equal(ingressPaths(objs)[0]!.path, '/oauth2');
    assert.ok(!objs.some((o) => o.kind === 'Secret'), 'existing Secrets are used, none rendered');
    const notes = helm([
      'install',
      'pg',
      CHART,
      '--dry-run=client',
      '--namespace',
      'monitoring',
      '-f',
      example('oauth2-proxy-nginx'),
    ]);
    assert.match(
      notes.out,
      /nginx\.ingress\.kubernetes\.io\/auth-url: "http:\/\/pg-promgate\.monitoring\.svc\.cluster\.local:9092\/oauth2\/auth"/,
    );
  },
);

test("oauth2-proxy behind Traefik: a forwardAuth Middleware at the Service's /oauth2/auth", { skip }, () => {
  toolsOk();
  const { objs } = render([example('oauth2-proxy-traefik')]);
  const mw = spec<{ forwardAuth: { address: string; authResponseHeaders: string[] } }>(one(objs, 'Middleware'));
  assert.equal(mw.forwardAuth.address, `http://${one(objs, 'Service').metadata.name}.monitoring.svc:9092/oauth2/auth`);
  assert.ok(mw.forwardAuth.authResponseHeaders.includes('X-Auth-Request-User'));
  const secret = one(objs, 'Secret');
  assert.deepEqual(Object.keys(secret.stringData!).sort(), ['client-secret', 'cookie-secret']);
});

test(
  'sidecar for managed Prometheus (Azure): anonymous in, signed out with Entra ID workload identity, no stored credential, only the named clients may call it',
  { skip },
  () => {
    toolsOk();
    const { objs } = render([example('sidecar-managed-prometheus')]);
    const cfg = configOf(objs);
    assert.equal(cfg.auth.anonymous, true);
    assert.match(cfg.routes[0]!.upstream.url, /^https:\/\/[^/]+\.prometheus\.monitor\.azure\.com$/);
    assert.deepEqual(
      cfg.routes[0]!.upstream.auth,
      { type: 'azure' },
      'signed with Entra ID (credential auto: workload identity from the injected AZURE_* variables)',
    );
    const pod = spec<DeploymentSpec>(one(objs, 'Deployment')).template;
    assert.equal(
      pod.metadata.labels['azure.workload.identity/use'],
      'true',
      'the workload-identity webhook injects the token into this pod',
    );
    const sa = one(objs, 'ServiceAccount');
    assert.equal(pod.spec.serviceAccountName, sa.metadata.name);
    assert.match(sa.metadata.annotations?.['azure.workload.identity/client-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(
      !pod.spec.volumes.some((v) => v.name === 'upstream') && !objs.some((o) => o.kind === 'Secret'),
      'no bearer token or other stored credential',
    );
    assert.deepEqual(netpolIngress(objs)[0]!.from, [
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'grafana' } } },
    ]);
  },
);

test(
  'sidecar for managed Prometheus (AWS): anonymous in, SigV4-signed out with IRSA, no stored credential',
  { skip },
  () => {
    toolsOk();
    const { objs } = render([example('sidecar-managed-prometheus-aws')]);
    const cfg = configOf(objs);
    assert.equal(cfg.auth.anonymous, true);
    assert.deepEqual(cfg.routes[0]!.upstream.auth, { type: 'aws', region: 'eu-west-1' });
    const pod = spec<DeploymentSpec>(one(objs, 'Deployment')).template;
    const sa = one(objs, 'ServiceAccount');
    assert.equal(pod.spec.serviceAccountName, sa.metadata.name);
    assert.match(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'] ?? '', /^arn:aws:iam::\d{12}:role\//);
    assert.ok(
      !pod.spec.volumes.some((v) => v.name === 'upstream') && !objs.some((o) => o.kind === 'Secret'),
      'no stored credential',
    );
  },
);

test('a config change changes the checksum annotation (pods roll); the same values keep it', { skip }, () => {
  toolsOk();
  const sum = (set: string[]) =>
    spec<DeploymentSpec>(one(render([example('multi-tenant')], set).objs, 'Deployment')).template.metadata.annotations[
      'checksum/config'
    ]!;
  const a = sum([]);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(sum([]), a);
  assert.notEqual(sum(['logLevel=debug']), a);
  assert.notEqual(sum(['config.routes[0].upstream.url=http://other:9090']), a);
});

test('the chart refuses what cannot work, and says why', { skip }, () => {
  toolsOk();
  const nginx = [example('oauth2-proxy-nginx')];
  assert.match(
    renderFails(['redis.existingSecret=', 'replicaCount=3'], nginx),
    /3 replicas keep sessions in Redis .* set redis\.url or redis\.existingSecret/,
  );
  assert.match(
    renderFails(
      ['redis.existingSecret=', 'replicaCount=1', 'autoscaling.enabled=true', 'autoscaling.maxReplicas=4'],
      nginx,
    ),
    /4 replicas keep sessions in Redis/,
  );
  // With one replica and cookie sessions there is no shared state: no Redis needed.
  render(nginx, ['redis.existingSecret=', 'replicaCount=1', 'config.auth.oidc.sessionStore=cookie']);
  assert.match(
    renderFails(['terminationGracePeriodSeconds=20', 'users.content=x']),
    /must be larger than shutdownTimeoutSeconds/,
  );
  assert.match(
    renderFails(['config.server.shutdownTimeout=10s', 'users.content=x']),
    /set shutdownTimeoutSeconds instead/,
  );
  assert.match(renderFails([]), /no authentication/);
  assert.match(renderFails(['oidc.existingSecret='], nginx), /needs oidc\.cookieSecret and oidc\.clientSecret/);
});

test('the schema check can fail: a misspelt field and a wrong type are refused', { skip }, () => {
  toolsOk();
  const bad = (spec: string) =>
    spawnSync(KUBESCHEMA, [], {
      input: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n${spec}`,
      encoding: 'utf8',
    });
  const typo = bad(
    '  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i, securityContext: {readOnlyRootFileSystem: true}}]\n',
  );
  assert.equal(typo.status, 1);
  assert.match(
    typo.stdout,
    /unknown field "spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem"/,
  );
  assert.equal(bad('  replicas: "2"\n').status, 1);
});

test(
  'deploy/kubernetes/promgate.yaml: schema-valid, as hardened as the chart, and its config passes promgate check',
  { skip },
  () => {
    toolsOk();
    const text = readFileSync(join(REPO_ROOT, 'deploy/kubernetes/promgate.yaml'), 'utf8');
    assert.deepEqual(schemaCheck(text), []);
    const objs = parseAllDocuments(text).map((d) => d.toJS() as Obj);
    assertHardened(objs);
    checkConfigAsMounted(objs);
    // The same pod as the chart renders for its defaults with users set, apart from names and labels.
    const chartPod = podOf(render([], ['users.content=users: []']).objs) as unknown as Record<string, unknown> & {
      containers: Record<string, unknown>[];
    };
    const plainPod = podOf(objs) as unknown as Record<string, unknown> & { containers: Record<string, unknown>[] };
    for (const k of ['securityContext', 'terminationGracePeriodSeconds']) assert.deepEqual(plainPod[k], chartPod[k], k);
    for (const k of [
      'args',
      'ports',
      'livenessProbe',
      'readinessProbe',
      'resources',
      'securityContext',
      'volumeMounts',
      'env',
    ])
      assert.deepEqual(plainPod.containers[0]![k], chartPod.containers[0]![k], `container ${k}`);
  },
);
