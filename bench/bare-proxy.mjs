// Node's floor for comparison only: a bare pass-through proxy (node:http + undici Pool), no auth, rewrite or logging.
// Plain JavaScript, run by node without a loader, so its RSS is Node's own and not a TypeScript loader's.
// `--idle-no-undici` starts a node:http server that never loads undici (the idle-RSS floor of Node alone).
import { createServer } from 'node:http';

const upstream = process.argv[2];
const withUndici = !process.argv.includes('--idle-no-undici');
const { Pool } = withUndici ? await import('undici') : { Pool: undefined };
const pool = Pool ? new Pool(upstream, { connections: 128, pipelining: 1 }) : undefined;
const server = createServer((req, res) => {
  if (!pool) return res.writeHead(502).end();
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.connection;
  delete headers['keep-alive'];
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  pool
    .stream({ path: req.url, method: req.method, headers, body }, ({ statusCode, headers: h }) => {
      delete h.connection;
      delete h['keep-alive'];
      delete h['transfer-encoding'];
      res.writeHead(statusCode, h);
      return res;
    })
    .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
});
server.listen(0, '127.0.0.1', () => console.log(`BARE_PORT ${server.address().port}`));
