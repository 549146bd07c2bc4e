// Builds the upstream request headers in the design's fixed order: clean, then promgate's own headers (signing comes last, in upstream/).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { cleanRequestHeaders } from '../upstream/headers.js';
import type { ProxyTrust } from '../lib/trusted-proxies.js';

export function upstreamHeaders(
  req: IncomingMessage,
  reqId: string,
  trust: ProxyTrust,
  extraStrip?: ReadonlySet<string>,
): Record<string, string | string[]> {
  const h = cleanRequestHeaders(req.headers, extraStrip);
  const remote = req.socket.remoteAddress ?? '';
  const trusted = trust(remote);
  const xff = req.headers['x-forwarded-for'];
  h['x-forwarded-for'] = trusted && typeof xff === 'string' && xff !== '' ? `${xff}, ${remote}` : remote;
  const proto = req.headers['x-forwarded-proto'];
  h['x-forwarded-proto'] =
    trusted && typeof proto === 'string' ? proto : (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const fhost = req.headers['x-forwarded-host'];
  const host = trusted && typeof fhost === 'string' ? fhost : req.headers.host;
  if (host) h['x-forwarded-host'] = host;
  h['x-request-id'] = reqId;
  return h;
}
