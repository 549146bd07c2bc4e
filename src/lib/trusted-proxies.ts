// Decides whether a peer may set X-Forwarded-* headers: only addresses inside configured CIDRs.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

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
