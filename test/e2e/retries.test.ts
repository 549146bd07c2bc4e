// Retries through a real promgate: a GET refused once is sent again; a POST whose body went out, or an answer begun, never is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import {
  freePort,
  makeTempDir,
  promgateBuilt,
  readAnswer,
  startPromgate,
  waitFor,
  type PromgateInstance,
} from './harness/index.js';
import { startStub, type Stub } from './upstream-stub.js';

const skip = promgateBuilt() ? false : 'dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first';
const tmp = makeTempDir('retries');
let pg: PromgateInstance;
let stub: Stub | undefined;
let port = 0;

before(async () => {
  if (skip) return;
  // Nothing listens here yet: the first connect is refused by the kernel, for real.
  port = await freePort();
  writeFileSync(tmp.file('users.yaml'), 'users:\n  - {username: alice, password: alice-pw, namespace: team-a}\n');
  pg = await startPromgate({
    configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 1h }
routes:
  - name: prom
    upstream:
      url: "http://127.0.0.1:${port}"
      # The first retry waits 1 to 2 s: time enough for the test to bring the upstream up once it sees the log line.
      retries: { attempts: 3, backoff: 2s, maxBackoff: 4s, minRetries: 10 }
auth:
  basic: { usersFile: ${JSON.stringify(tmp.file('users.yaml'))}, allowPlaintext: true }
`,
  });
});

after(async () => {
  await pg?.stop();
  await stub?.close();
  tmp.remove();
});

const AUTH = { authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` };

/** The upstream: echoes GETs; `query=reset` POSTs lose their connection once the body is in; `query=partial` GETs break mid-answer. */
function upstream(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = req.url ?? '';
  if (req.method === 'POST' && body.includes('reset')) return void req.socket.destroy();
  if (url.includes('partial')) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"status":"success","data":');
    setImmediate(() => req.socket.destroy());
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'success', data: { url } }));
}

async function retries(): Promise<number> {
  const text = await (await request(`${pg.url}/metrics`)).body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('promgate_upstream_retries_total{'))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}
const calls = (what: string) => stub!.received.filter((r) => r.url.includes(what) || r.body.includes(what)).length;

test('a GET whose connection was refused is retried and answered', { skip }, async () => {
  const answer = request(`${pg.url}/api/v1/query?query=first`, { headers: AUTH }).then(readAnswer);
  await waitFor(() => pg.logLines().some((l) => l.msg === 'upstream connect failed; retrying' && l.attempt === 1), {
    what: 'the retry log line',
    procs: [pg.proc],
  });
  stub = await startStub(upstream, port);
  const r = await answer;
  assert.equal(r.status, 200, r.text);
  assert.match((r.json as { data: { url: string } }).data.url, /query=first/);
  assert.equal(calls('first'), 1, 'the upstream saw it once: the refused attempt never reached it');
  assert.ok((await retries()) >= 1);
});

test('a POST whose body was sent is never retried when the connection then fails', { skip }, async () => {
  const before = await retries();
  const r = await readAnswer(
    await request(`${pg.url}/api/v1/query`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=reset',
    }),
  );
  assert.equal(r.status, 502);
  assert.equal(calls('reset'), 1);
  assert.equal(await retries(), before);
});

test('a request that received answer bytes is never retried: the client sees a broken answer', { skip }, async () => {
  const before = await retries();
  await assert.rejects(async () => {
    const r = await request(`${pg.url}/api/v1/query?query=partial`, { headers: AUTH });
    await r.body.text();
  });
  assert.equal(calls('partial'), 1);
  assert.equal(await retries(), before);
});
