// Client certificate → identity → tenant, enforced against a real Prometheus behind promgate's TLS listener (HTTP/1.1 and h2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect as h2Connect } from 'node:http2';
import { makeCa, type Issued } from './harness/certs.js';
import { makeTempDir, seriesOf, startStack, TENANTS, type Stack } from './harness/index.js';
import { startInProcess, type InProcessGateway } from '../helpers/gateway.js';

let stack: Stack;
let gw: InProcessGateway;
let dir: ReturnType<typeof makeTempDir>;
let serverCa: Buffer;
const certs = {} as Record<'a' | 'b' | 'none', Issued>;

before(async () => {
  dir = makeTempDir('tls-e2e');
  stack = await startStack();
  const ca = makeCa(dir.path);
  const srv = ca.issue('server', 'server');
  serverCa = ca.ca;
  const clients = makeCa(dir.path, 'clients');
  certs.a = clients.issue('svc-a', 'client');
  certs.b = clients.issue('ops', 'client', { san: 'email:ops@team-b.example' });
  certs.none = clients.issue('stranger', 'client');
  gw = await startInProcess({
    yaml: `server:
  tls: { certFile: ${srv.certFile}, keyFile: ${srv.keyFile}, clientCaFile: ${clients.caFile}, clientAuth: require, http2: true }
routes:
  - name: prom
    prefix: /
    upstream: { url: "${stack.prom.url}" }
    authMethods: [cert]
tenants:
  rules:
    - match: { users: [svc-a] }
      labels: { namespace: team-a }
    - match: { emails: [ops@team-b.example] }
      labels: { namespace: [team-b, team-c] }
`,
  });
});

after(async () => {
  await gw?.close();
  await stack?.stop();
  dir?.remove();
});

function get(path: string, c: Issued): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: gw.port,
        path,
        servername: 'localhost',
        ca: serverCa,
        cert: c.cert,
        key: c.key,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const namespaces = (body: string) =>
  [...new Set((JSON.parse(body) as { data: Record<string, string>[] }).data.map((s) => s.namespace))].sort();
const SERIES = `/api/v1/series?match[]=${encodeURIComponent('http_requests_total')}`;

test('a client certificate sees exactly its tenant in real Prometheus series (CN and email SAN)', async () => {
  // Prometheus itself holds every tenant: the filter below is promgate's.
  assert.ok(seriesOf('http_requests_total').length > seriesOf('http_requests_total', 'team-a').length);
  assert.ok(TENANTS.length > 3);
  const a = await get(SERIES, certs.a);
  assert.equal(a.status, 200, a.body);
  assert.deepEqual(namespaces(a.body), ['team-a']);
  const b = await get(SERIES, certs.b);
  assert.equal(b.status, 200, b.body);
  assert.deepEqual(namespaces(b.body), ['team-b', 'team-c']);
  // A certificate of the right CA that no tenant rule names sees nothing.
  const none = await get(SERIES, certs.none);
  assert.equal(none.status, 403, none.body);
  // An attempt to widen the tenant in the query itself.
  const widen = await get(
    `/api/v1/query?query=${encodeURIComponent('count by (namespace) (http_requests_total{namespace=~".+"})')}`,
    certs.a,
  );
  assert.equal(widen.status, 200, widen.body);
  const result = (JSON.parse(widen.body) as { data: { result: { metric: { namespace?: string } }[] } }).data.result;
  assert.deepEqual(
    result.map((r) => r.metric.namespace),
    ['team-a'],
  );
});

test('the same through HTTP/2: the certificate of the session is the identity of each stream', async () => {
  const session = h2Connect(`https://localhost:${gw.port}`, {
    ca: serverCa,
    cert: certs.b.cert,
    key: certs.b.key,
    host: '127.0.0.1',
  } as object);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const st = session.request({ ':path': SERIES });
      let out = '';
      st.setEncoding('utf8');
      st.on('data', (d: string) => (out += d));
      st.on('end', () => resolve(out));
      st.on('error', reject);
      st.end();
    });
    assert.equal(session.alpnProtocol, 'h2');
    assert.deepEqual(namespaces(body), ['team-b', 'team-c']);
  } finally {
    session.close();
  }
});
