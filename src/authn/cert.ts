// Client-certificate authentication: a certificate verified against server.tls.clientCaFile names the identity.
import { GatewayError } from '../errors.js';
import type { TLSSocket } from 'node:tls';
import type { AuthRequest, Authenticator, Identity } from './identity.js';

export interface CertSubject {
  cn: string;
  dns: string[];
  emails: string[];
  uris: string[];
}

const refuse = (why: string) => new GatewayError('PG_AUTHN_CERT_INVALID', `client certificate refused: ${why}`);

/**
 * Node's `subjectaltname` string: `DNS:a, email:b, URI:c, IP Address:1.2.3.4`; since the CVE-2021-44532 fix a
 * value holding a `,`, `"`, `\` or a control character is written as a JSON string. Anything else is refused
 * rather than guessed: a name read differently here than by the CA is how one identity becomes another.
 */
export function parseSubjectAltName(text: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  const re = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,"]*)(, |$)/y;
  let i = 0;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw refuse('unreadable subjectAltName');
    const raw = m[2]!;
    out.push({ type: m[1]!, value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
    i = re.lastIndex;
    if (m[3] === '') break;
  }
  return out;
}

function single(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw refuse('several common names');
  return v;
}

/** The identity a verified certificate names: CN is the user and subject; SANs go to the email and claims. */
export function certIdentity(subject: CertSubject): Identity {
  const user = subject.cn || subject.emails[0] || subject.uris[0] || subject.dns[0];
  if (!user) throw refuse('no common name and no subjectAltName');
  return {
    subject: user,
    user,
    ...(subject.emails[0] !== undefined ? { email: subject.emails[0] } : {}),
    groups: [],
    claims: { cn: subject.cn, dns: subject.dns, emails: subject.emails, uris: subject.uris },
    method: 'cert',
  };
}

/** The `cert` method: null without a certificate (the next method is tried); 401 for one that is not verified. */
export function createCertAuthenticator(): Authenticator {
  // Read at every request, never cached per connection: a TLS 1.2 client may renegotiate with another certificate.
  return {
    method: 'cert',
    authenticate(req: AuthRequest): Identity | null {
      const sock = req.socket as TLSSocket | undefined;
      if (typeof sock?.getPeerCertificate !== 'function') return null;
      const peer = sock.getPeerCertificate();
      if (!peer || peer.raw === undefined) return null;
      // Only a certificate verified against clientCaFile at the handshake names anyone.
      if (sock.authorized !== true) throw refuse('not signed by server.tls.clientCaFile');
      const san = peer.subjectaltname ? parseSubjectAltName(peer.subjectaltname) : [];
      const pick = (t: string) => san.filter((s) => s.type === t).map((s) => s.value);
      return certIdentity({
        cn: single(peer.subject?.CN) ?? '',
        dns: pick('DNS'),
        emails: pick('email'),
        uris: pick('URI'),
      });
    },
  };
}
