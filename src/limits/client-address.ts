// The address a request comes from, for per-client limits: the socket peer, or X-Forwarded-For read only through trusted proxies.
import type { IncomingMessage } from 'node:http';
import type { ProxyTrust } from '../lib/trusted-proxies.js';

/**
 * Walks X-Forwarded-For from the right (each proxy appends the address it saw) while the hop that wrote the entry
 * is a trusted proxy; the first address not vouched for is the client. A caller that is not a trusted proxy
 * cannot choose its bucket by sending the header: its own socket address is used.
 */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  let addr = req.socket.remoteAddress ?? '';
  if (!trust(addr)) return addr;
  const xff = req.headers['x-forwarded-for'];
  if (typeof xff !== 'string' || xff === '') return addr;
  const hops = xff.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === '') continue;
    addr = hop;
    if (!trust(hop)) return hop;
  }
  return addr;
}
