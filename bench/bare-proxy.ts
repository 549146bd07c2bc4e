// Node's floor for comparison only: a bare pass-through proxy (node:http + undici Pool), no auth, rewrite or logging.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]!, { connections: 128, pipelining: 1 });
const server = createServer((req, res) => {
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.connection;
  delete headers['keep-alive'];
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  pool
    .stream({ path: req.url!, method: req.method as 'GET', headers, body }, ({ statusCode, headers: h }) => {
      delete h.connection;
      delete h['keep-alive'];
      delete h['transfer-encoding'];
      res.writeHead(statusCode, h);
      return res;
    })
    .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
});
server.listen(0, '127.0.0.1', () => console.log(`BARE_PORT ${(server.address() as { port: number }).port}`));
