// Decides whether a peer may set X-Forwarded-* headers: only addresses inside configured CIDRs.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';

export type ProxyTrust = (remoteAddress: string | undefined) => boolean;

/** Throws an Error naming the bad entry; the config loader turns it into a keyed config error. */
export function createProxyTrust(cidrs: readonly string[]): ProxyTrust {
  if (cidrs.length === 0) return () => false;
  const list = new BlockList();
  for (const raw of cidrs) {
    const [addr, bits] = raw.split('/');
    const type = isIPv4(addr ?? '') ? 'ipv4' : isIPv6(addr ?? '') ? 'ipv6' : undefined;
    if (!addr || !type) throw new Error(`not an IP address or CIDR: "${raw}"`);
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const prefix = Number(bits);
      const max = type === 'ipv4' ? 32 : 128;
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad prefix length in "${raw}"`);
      list.addSubnet(addr, prefix, type);
    }
  }
  const cache = new Map<string, boolean>();
  return (remote) => {
    if (!remote) return false;
    let ok = cache.get(remote);
    if (ok === undefined) {
      const v4mapped = remote.startsWith('::ffff:') && isIPv4(remote.slice(7)) ? remote.slice(7) : undefined;
      ok = v4mapped ? list.check(v4mapped, 'ipv4') : list.check(remote, isIPv4(remote) ? 'ipv4' : 'ipv6');
      if (cache.size > 1000) cache.clear();
      cache.set(remote, ok);
    }
    return ok;
  };
}

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
