// mTLS to the upstream with a client certificate replaced on disk mid-run (a Kubernetes Secret's ..data swap).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { startPromgate } from '../e2e/harness/promgate.js';
import { makeTempDir } from '../e2e/harness/cleanup.js';
import { makeCa } from '../e2e/harness/certs.js';
import { waitFor } from '../e2e/harness/wait.js';

/** A directory laid out as the kubelet lays out a Secret volume, with an atomic swap of ..data. */
function secretDir(dir: string) {
  let n = 0;
  const publish = (files: Record<string, Buffer>) => {
    const version = `..2026_12_03_${n++}`;
    mkdirSync(join(dir, version));
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, version, name), body);
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (n === 1) for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
  };
  return { publish, file: (name: string) => join(dir, name) };
}

test('the client certificate is re-read when the Secret changes: new connections use it, an in-flight request finishes, a broken pair is refused and reported', async (t) => {
  const tmp = makeTempDir('mtls');
  t.after(() => tmp.remove());
  mkdirSync(join(tmp.path, 'secret'));
  const ca = makeCa(tmp.path);
  const serverCert = ca.issue('upstream', 'server');
  const first = ca.issue('promgate-2026-11', 'client');
  const second = ca.issue('promgate-2026-12', 'client');
  const stranger = makeCa(tmp.path, 'other-ca').issue('stranger', 'client');

  // The upstream requires a client certificate from the CA, names it in each answer, and closes each connection,
  // so every request is a new handshake. /hold answers only when released.
  let release: (() => void) | undefined;
  const held = new Promise<void>((r) => (release = r));
  let holding = false;
  const up = createServer(
    { key: serverCert.key, cert: serverCert.cert, ca: ca.ca, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '';
      const answer = () =>
        res
          .writeHead(200, { 'content-type': 'application/json', connection: 'close' })
          .end(JSON.stringify({ status: 'success', data: { cn } }));
      if ((req.url ?? '').includes('hold')) {
        holding = true;
        void held.then(answer);
      } else answer();
    },
  );
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        up.closeAllConnections();
        up.close(() => r());
      }),
  );
  const upUrl = `https://127.0.0.1:${(up.address() as AddressInfo).port}`;

  const secret = secretDir(join(tmp.path, 'secret'));
  secret.publish({ 'tls.crt': first.cert, 'tls.key': first.key, 'ca.crt': ca.ca });
  const pg = await startPromgate({
    configYaml: `server: { host: 127.0.0.1, port: {{PORT}} }
routes:
  - upstream:
      url: ${upUrl}
      tls: { caFile: ${secret.file('ca.crt')}, certFile: ${secret.file('tls.crt')}, keyFile: ${secret.file('tls.key')} }
    unsafePassthroughPaths: [/hold]
auth: { anonymous: true }
tenants: { rules: [ { match: { users: [anonymous] }, unrestricted: true } ] }
`,
  });
  t.after(() => pg.stop());
  const cn = async (path = '/api/v1/status/buildinfo') => {
    const r = await request(`${pg.url}${path}`);
    const text = await r.body.text();
    assert.equal(r.statusCode, 200, text);
    return (JSON.parse(text) as { data: { cn: string } }).data.cn;
  };
  const reloads = (msg: string) => pg.logLines().filter((l) => l.msg === msg).length;

  assert.equal(await cn(), 'promgate-2026-11');
  // A request in flight over the old certificate's connection…
  const inflight = cn('/hold');
  await waitFor(() => holding, { what: 'the held request to reach the upstream' });
  // …while the Secret is updated.
  secret.publish({ 'tls.crt': second.cert, 'tls.key': second.key, 'ca.crt': ca.ca });
  await waitFor(() => reloads('upstream TLS files reloaded; new connections use them') === 1, {
    what: 'the TLS reload',
    procs: [pg.proc],
  });
  assert.equal(await cn(), 'promgate-2026-12', 'the next connection presents the new certificate');
  release!();
  assert.equal(await inflight, 'promgate-2026-11', 'the request in flight finished on its own connection');

  // A broken pair (the key of another certificate) is refused: logged, counted, reported; the previous pair serves on.
  secret.publish({ 'tls.crt': stranger.cert, 'tls.key': second.key, 'ca.crt': ca.ca });
  const refused = await waitFor(
    () =>
      pg.logLines().find((l) => l.msg === 'upstream TLS files refused; new connections keep using the previous ones'),
    { what: 'the refusal', procs: [pg.proc] },
  );
  assert.match(String(refused.reason), /key values mismatch|mismatch/i);
  assert.equal(await cn(), 'promgate-2026-12');
  const ready = await request(`${pg.url}/-/ready`);
  const readyText = await ready.body.text();
  assert.equal(ready.statusCode, 200, 'the old pair still works, so the gateway stays ready');
  assert.match(
    readyText,
    new RegExp(
      `upstream tls ${upUrl.replace(/[.]/g, '\\.')}: WARNING new files refused, still using the previous ones`,
    ),
  );
  const metrics = await (await request(`${pg.url}/metrics`)).body.text();
  assert.match(
    metrics,
    new RegExp(`promgate_config_last_reload_successful\\{source="upstream.tls ${upUrl.replace(/[.]/g, '\\.')}"\\} 0`),
  );
  assert.match(
    metrics,
    new RegExp(
      `promgate_config_reloads_total\\{source="upstream.tls ${upUrl.replace(/[.]/g, '\\.')}",result="failure"\\} 1`,
    ),
  );

  // Fixed: the good pair is taken, and the warning goes away.
  secret.publish({ 'tls.crt': first.cert, 'tls.key': first.key, 'ca.crt': ca.ca });
  await waitFor(() => reloads('upstream TLS files reloaded; new connections use them') === 2, {
    what: 'the second TLS reload',
    procs: [pg.proc],
  });
  assert.equal(await cn(), 'promgate-2026-11');
  assert.doesNotMatch(await (await request(`${pg.url}/-/ready`)).body.text(), /WARNING/);
});
