// server.tls: the minimum version, HTTP/2 through ALPN into the real pipeline, certificate rotation without dropping connections, and client certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as h2Connect } from 'node:http2';
import { X509Certificate } from 'node:crypto';
import { startInProcess } from '../helpers/gateway.js';
import { startStub, type Stub } from '../helpers/upstream-stub.js';
import { makeCa, type TestCa } from '../e2e/harness/certs.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { waitFor } from '../helpers/wait.js';

const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

interface Setup {
  dir: ReturnType<typeof makeTempDir>;
  ca: TestCa;
  certFile: string;
  keyFile: string;
  stub: Stub;
  usersFile: string;
}

async function setup(t: { after(fn: () => unknown): void }): Promise<Setup> {
  const dir = makeTempDir('tls-listener');
  t.after(() => dir.remove());
  const ca = makeCa(dir.path);
  const leaf = ca.issue('server', 'server');
  // The listener reads copies, so a test can replace them.
  const certFile = dir.file('tls.crt');
  const keyFile = dir.file('tls.key');
  copyFileSync(leaf.certFile, certFile);
  copyFileSync(leaf.keyFile, keyFile);
  const stub = await startStub((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
  });
  t.after(() => stub.close());
  const usersFile = dir.file('users.yaml');
  writeFileSync(usersFile, 'users:\n  - username: alice\n    password: alice-pw\n    namespace: team-a\n');
  return { dir, ca, certFile, keyFile, stub, usersFile };
}

function config(s: Setup, tls: string, extra = ''): string {
  return `server:
  tls: { certFile: ${s.certFile}, keyFile: ${s.keyFile}, ${tls} }
routes:
  - prefix: /
    upstream: { url: "${s.stub.url}" }
auth:
  basic: { usersFile: ${s.usersFile} }
${extra}`;
}

/** Completes a TLS handshake (resolving the socket) or fails with the reason. */
function handshake(port: number, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...opts }, () => resolve(sock));
    sock.once('error', reject);
  });
}

/** An HTTPS request; resolves status, body, and the socket and certificate it ran on. */
function get(
  port: number,
  path: string,
  opts: RequestOptions,
): Promise<{ status: number; body: string; socket: TLSSocket; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: 'localhost', ...opts }, (res) => {
      // A keep-alive socket goes back to its agent at the end: read it now.
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, socket, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

const fingerprintOf = (pem: Buffer) => new X509Certificate(pem).fingerprint256;

test('minimum TLS version: TLS 1.1 is refused, 1.2 and 1.3 are served; minVersion TLSv1.3 refuses 1.2', async (t) => {
  const s = await setup(t);
  const gw = await startInProcess({ yaml: config(s, 'minVersion: TLSv1.2') });
  t.after(() => gw.close());
  // The client is willing to speak TLS 1.1 (security level 0 allows its ciphers), so only the server can refuse.
  const old = {
    ca: s.ca.ca,
    minVersion: 'TLSv1' as const,
    maxVersion: 'TLSv1.1' as const,
    ciphers: 'DEFAULT@SECLEVEL=0',
  };
  await assert.rejects(handshake(gw.port, old), /protocol version|unsupported protocol/i);
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const sock = await handshake(gw.port, { ca: s.ca.ca, minVersion: v, maxVersion: v });
    assert.equal(sock.getProtocol(), v);
    sock.destroy();
  }
  const gw13 = await startInProcess({ yaml: config(s, 'minVersion: TLSv1.3') });
  t.after(() => gw13.close());
  await assert.rejects(
    handshake(gw13.port, { ca: s.ca.ca, maxVersion: 'TLSv1.2' }),
    /protocol version|unsupported protocol/i,
  );
  const sock = await handshake(gw13.port, { ca: s.ca.ca });
  assert.equal(sock.getProtocol(), 'TLSv1.3');
  sock.destroy();
});

test('http2: true — an h2 request (ALPN) goes through the real pipeline to the upstream, and HTTP/1.1 still works', async (t) => {
  const s = await setup(t);
  const gw = await startInProcess({ yaml: config(s, 'http2: true') });
  t.after(() => gw.close());
  const session = h2Connect(`https://localhost:${gw.port}`, { ca: s.ca.ca, host: '127.0.0.1' } as object);
  t.after(() => session.close());
  const answer = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const st = session.request({ ':path': path, ...headers });
      let status = 0;
      let hdrs: Record<string, unknown> = {};
      let body = '';
      st.setEncoding('utf8');
      st.on('response', (h) => {
        status = Number(h[':status']);
        hdrs = h;
      });
      st.on('data', (c: string) => (body += c));
      st.on('end', () => resolve({ status, headers: hdrs, body }));
      st.on('error', reject);
      st.end();
    });
  const ok = await answer('/api/v1/query?query=up', { authorization: basic('alice', 'alice-pw') });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(session.alpnProtocol, 'h2');
  const got = s.stub.received.at(-1)!;
  assert.equal(new URL(got.url, 'http://x').searchParams.get('query'), 'up{namespace="team-a"}');
  // HTTP/2 pseudo-headers never reach the upstream as headers.
  assert.ok(!Object.keys(got.headers).some((h) => h.startsWith(':')), JSON.stringify(got.headers));
  const access = gw.logs.find((l) => l.msg === 'request' && l.user === 'alice');
  assert.equal(access?.tenant !== undefined, true);
  // Refusals through h2 are the same coded JSON errors.
  const denied = await answer('/api/v1/query?query=up');
  assert.equal(denied.status, 401);
  assert.match(denied.body, /"errorType":"unauthorized"/);
  // A client that does not offer h2 gets HTTP/1.1 on the same port.
  const h1 = await get(gw.port, '/api/v1/query?query=up', {
    ca: s.ca.ca,
    headers: { authorization: basic('alice', 'alice-pw') },
  });
  assert.equal(h1.status, 200);
  assert.equal(h1.socket.alpnProtocol, false);
});

test('certificate rotation: an open keep-alive connection continues, a new connection gets the new certificate; a broken pair keeps the old one', async (t) => {
  const s = await setup(t);
  const gw = await startInProcess({ yaml: config(s, 'minVersion: TLSv1.2') });
  t.after(() => gw.close());
  const oldPrint = fingerprintOf(readFileSync(s.certFile));
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: s.ca.ca });
  t.after(() => agent.destroy());
  const auth = { authorization: basic('alice', 'alice-pw') };
  const first = await get(gw.port, '/api/v1/query?query=up', { agent, headers: auth });
  assert.equal(first.status, 200);
  assert.equal(first.fingerprint, oldPrint);

  const next = s.ca.issue('server-2', 'server');
  const reloaded = () => gw.logs.filter((l) => l.msg.startsWith('server TLS files reloaded')).length;
  const before = reloaded();
  copyFileSync(next.keyFile, s.keyFile);
  copyFileSync(next.certFile, s.certFile);
  await waitFor(() => reloaded() > before, { what: 'the server TLS reload' });

  const again = await get(gw.port, '/api/v1/query?query=up', { agent, headers: auth });
  assert.equal(again.status, 200);
  assert.equal(again.socket, first.socket, 'the keep-alive connection was kept');
  assert.equal(again.fingerprint, oldPrint);
  const fresh = await get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false, headers: auth });
  assert.equal(fresh.fingerprint, fingerprintOf(next.cert));

  // A key that is not the certificate's: refused, counted, and the current pair keeps serving.
  const refusedBefore = gw.logs.filter((l) => l.msg.startsWith('server TLS files refused')).length;
  copyFileSync(s.ca.issue('server-3', 'server').keyFile, s.keyFile);
  await waitFor(() => gw.logs.filter((l) => l.msg.startsWith('server TLS files refused')).length > refusedBefore, {
    what: 'the refused TLS reload',
  });
  const metrics = await get(gw.port, '/metrics', { ca: s.ca.ca, agent: false });
  assert.match(metrics.body, /promgate_config_reloads_total\{[^}]*source="server\.tls"[^}]*result="failure"[^}]*\} 1/);
  const still = await get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false, headers: auth });
  assert.equal(still.status, 200);
  assert.equal(still.fingerprint, fingerprintOf(next.cert));
});

test('client certificates: clientAuth require refuses no certificate and another CA; the subject (CN, SANs) is the identity that tenant rules match', async (t) => {
  const s = await setup(t);
  const clientCa = makeCa(s.dir.path, 'clients');
  const otherCa = makeCa(s.dir.path, 'other');
  const extra = `  anonymous: false
tenants:
  rules:
    - match: { users: [svc-a] }
      labels: { namespace: team-a }
    - match: { emails: [bob@example.com] }
      labels: { namespace: team-b }
    - match: { claims: { uris: "spiffe://cluster/ns/team-c/sa/reader" } }
      labels: { namespace: team-c }
`;
  const gw = await startInProcess({
    yaml: config(s, `clientCaFile: ${clientCa.caFile}, clientAuth: require`, extra),
  });
  t.after(() => gw.close());
  await assert.rejects(
    get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false }),
    /certificate required|ECONNRESET|socket hang up|alert/i,
  );
  const stranger = otherCa.issue('svc-a', 'client');
  await assert.rejects(
    get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false, cert: stranger.cert, key: stranger.key }),
    /unknown ca|ECONNRESET|socket hang up|alert/i,
  );
  const cases: [Issued, string][] = [
    [clientCa.issue('svc-a', 'client'), 'up{namespace="team-a"}'],
    [clientCa.issue('bob', 'client', { san: 'email:bob@example.com,DNS:bob.example.com' }), 'up{namespace="team-b"}'],
    [
      clientCa.issue('reader', 'client', { subject: '/O=cluster', san: 'URI:spiffe://cluster/ns/team-c/sa/reader' }),
      'up{namespace="team-c"}',
    ],
  ];
  for (const [c, want] of cases) {
    const r = await get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false, cert: c.cert, key: c.key });
    assert.equal(r.status, 200, r.body);
    assert.equal(new URL(s.stub.received.at(-1)!.url, 'http://x').searchParams.get('query'), want);
  }
  // A certificate no rule matches gets no tenant.
  const nobody = clientCa.issue('nobody', 'client');
  const r = await get(gw.port, '/api/v1/query?query=up', {
    ca: s.ca.ca,
    agent: false,
    cert: nobody.cert,
    key: nobody.key,
  });
  assert.equal(r.status, 403, r.body);
  const line = gw.logs.find((l) => l.msg === 'request' && l.user === 'svc-a');
  assert.equal(line?.auth, 'cert');
});

type Issued = ReturnType<TestCa['issue']>;

test('client certificates with clientAuth request: no certificate lets basic auth in, a certificate of another CA is refused', async (t) => {
  const s = await setup(t);
  const clientCa = makeCa(s.dir.path, 'clients');
  const otherCa = makeCa(s.dir.path, 'other');
  const extra = `tenants:
  rules:
    - match: { users: [svc-a] }
      labels: { namespace: team-a }
`;
  const gw = await startInProcess({ yaml: config(s, `clientCaFile: ${clientCa.caFile}, clientAuth: request`, extra) });
  t.after(() => gw.close());
  const pw = await get(gw.port, '/api/v1/query?query=up', {
    ca: s.ca.ca,
    agent: false,
    headers: { authorization: basic('alice', 'alice-pw') },
  });
  assert.equal(pw.status, 200);
  const none = await get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false });
  assert.equal(none.status, 401);
  const stranger = otherCa.issue('svc-a', 'client');
  await assert.rejects(
    get(gw.port, '/api/v1/query?query=up', {
      ca: s.ca.ca,
      agent: false,
      cert: stranger.cert,
      key: stranger.key,
      headers: { authorization: basic('alice', 'alice-pw') },
    }),
    /ECONNRESET|socket hang up|alert/i,
  );
  const good = clientCa.issue('svc-a', 'client');
  const r = await get(gw.port, '/api/v1/query?query=up', { ca: s.ca.ca, agent: false, cert: good.cert, key: good.key });
  assert.equal(r.status, 200, r.body);
  assert.equal(new URL(s.stub.received.at(-1)!.url, 'http://x').searchParams.get('query'), 'up{namespace="team-a"}');
});
