// Issue 15.3: 10,000 idle keep-alive connections do not stop new requests being served. The gateway runs as its own
// process so that its descriptors and this test's are counted apart (each side holds one per connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { startStub, echoJson } from '../helpers/upstream-stub.js';
import { promgateBuilt, startPromgate } from '../e2e/harness/promgate.js';
import { fdsOf, strictRequest } from './helpers.js';

/** The soft limit on open files of this process (the gateway inherits it). */
function fileLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

// 10,000 when the machine allows it; otherwise as many as fit below the limit (reported in the test name).
const WANTED = 10_000;
const N = Math.min(WANTED, fileLimit() - 300);

test(
  `${N} idle keep-alive connections do not stop new requests being served${N < WANTED ? ` (file limit ${fileLimit()})` : ''}`,
  { skip: promgateBuilt() ? false : 'needs npm run build (dist/cli/main.js)', timeout: 180_000 },
  async () => {
    const up = await startStub(echoJson);
    const gw = await startPromgate({
      configYaml: `
server: { host: 127.0.0.1, port: {{PORT}}, readyCheckInterval: 1h, keepAliveTimeout: 10m, logLevel: warn, accessLog: false }
routes: [ { name: r, prefix: /, upstream: { url: "${up.url}" } } ]
auth: { anonymous: true }
tenants: { rules: [ { labels: { namespace: team-a } } ] }
`,
    });
    const sockets: Socket[] = [];
    try {
      const base = fdsOf(gw.proc.pid!).sockets;
      // Each connection makes one complete keep-alive request, then stays open and silent.
      const open = () =>
        new Promise<void>((resolve, reject) => {
          const s = connect(gw.port, '127.0.0.1');
          sockets.push(s);
          s.once('error', reject);
          s.once('data', () => resolve());
          s.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n');
        });
      for (let i = 0; i < N; i += 250) await Promise.all(Array.from({ length: Math.min(250, N - i) }, open));
      // (The base may count a start-up health check's connection that has closed since.)
      const held = fdsOf(gw.proc.pid!).sockets - base;
      assert.ok(held >= N - 10, `the gateway holds ${held} of the ${N} idle connections`);
      // New clients are served at once, on new connections, while all of them stay open.
      for (let i = 0; i < 20; i++) {
        const r = await strictRequest(`${gw.url}/api/v1/query?query=up`);
        assert.equal(r.status, 200);
      }
      assert.ok(
        sockets.every((s) => !s.destroyed),
        'no idle connection was dropped to make room',
      );
    } finally {
      for (const s of sockets) s.destroy();
      await gw.stop();
      await up.close();
    }
  },
);
