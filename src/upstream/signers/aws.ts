// AWS Signature Version 4 (Amazon Managed Service for Prometheus): the default credential chain, an optional role, the final request signed.
import { ConfigError } from '../../config/errors.js';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import type * as SmithySignatureV4 from '@smithy/signature-v4';
import { awsRegion } from '../../config/cloud-auth.js';
import { createRefresher, type Clock, type Fetched } from './refresh.js';

export { awsRegion } from '../../config/cloud-auth.js';
import { redactWith, type SignerDeps, type SignRequest, type UpstreamSigner } from './types.js';

export interface AwsAuthConfig {
  region?: string;
  service: string;
  roleArn?: string;
  roleSessionName?: string;
  externalId?: string;
  credentialTimeout: number;
}

/** @smithy/signature-v4's checksum interface over node:crypto (no extra package for SHA-256). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === 'string'
    ? d
    : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

class Sha256 {
  private h: Hash | Hmac;
  private readonly secret?: string | Uint8Array;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    this.h = this.fresh();
  }
}

/**
 * Decodes a query string the way Prometheus does (form encoding: `+` is a space) into ordered pairs. Invalid
 * percent-encoding cannot be given one meaning on both sides of the signature, so it is refused.
 */
export function parseQuery(search: string): [string, string][] {
  const out: [string, string][] = [];
  const s = search.startsWith('?') ? search.slice(1) : search;
  if (s === '') return out;
  for (const part of s.split('&')) {
    if (part === '') continue;
    const i = part.indexOf('=');
    const [k, v] = i < 0 ? [part, ''] : [part.slice(0, i), part.slice(i + 1)];
    try {
      out.push([decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' '))]);
    } catch {
      throw new GatewayError('PG_BAD_REQUEST', 'the query string has invalid percent-encoding and cannot be signed');
    }
  }
  return out;
}

/** RFC 3986 encoding as SigV4 canonicalises it: everything but A-Z a-z 0-9 - _ . ~ is %XX (UTF-8), space is %20. */
export function sigv4Encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The query as sent is re-serialised in SigV4's own encoding (same pairs, same order), so there is no `+` or
 * optional escape left for the service to read differently from the signer: the bytes sent are the canonical bytes.
 */
export function canonicalSearch(pairs: readonly [string, string][]): string {
  return pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${sigv4Encode(k)}=${sigv4Encode(v)}`).join('&');
}

/** What the SDK's providers return (declared here: @smithy/types is not a dependency of ours). */
interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

type Provider = (opts?: { forceRefresh?: boolean }) => Promise<AwsCredentialIdentity>;

/** The default chain (env, profile, web identity/IRSA, ECS, EC2), or a role assumed with it; loaded only when used. */
async function loadProvider(cfg: AwsAuthConfig, region: string): Promise<Provider> {
  const { fromNodeProviderChain, fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
  // The chain memoises, refreshes 5 min before expiry in the background and shares concurrent calls; forceRefresh skips its cache.
  const chain = fromNodeProviderChain() as Provider;
  if (!cfg.roleArn) return chain;
  // fromTemporaryCredentials calls STS AssumeRole on every call: the refresher in front of it is its only cache.
  const assume = fromTemporaryCredentials({
    masterCredentials: chain,
    params: {
      RoleArn: cfg.roleArn,
      RoleSessionName: cfg.roleSessionName ?? 'promgate',
      ...(cfg.externalId ? { ExternalId: cfg.externalId } : {}),
    },
    clientConfig: { region },
  });
  return () => assume();
}

export function createAwsSigner(cfg: AwsAuthConfig, deps: SignerDeps & { clock?: Clock }): UpstreamSigner {
  const env = deps.env ?? process.env;
  const region = awsRegion(cfg, env);
  // Refused at config load already; kept as a guard for callers that build signers directly.
  if (!region)
    throw ConfigError.at(
      ['upstream', 'auth', 'region'],
      'aws signing needs a region: set region, or AWS_REGION / AWS_DEFAULT_REGION',
    );
  let provider: Promise<Provider> | undefined;
  let last: AwsCredentialIdentity | undefined;
  const creds = createRefresher<AwsCredentialIdentity>({
    timeoutMs: cfg.credentialTimeout,
    clock: deps.clock,
    async fetch(again): Promise<Fetched<AwsCredentialIdentity>> {
      provider ??= loadProvider(cfg, region);
      const p = await provider;
      const c = await p(again ? { forceRefresh: true } : undefined);
      last = c;
      return { value: c, expiresAt: c.expiration?.getTime() };
    },
    onError: (reason) =>
      deps.logger.error({ route: deps.route, reason: redact(reason) }, 'AWS credentials unavailable'),
    onRefresh: (expiresAt) =>
      deps.logger.info(
        { route: deps.route, expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString() },
        'AWS credentials loaded',
      ),
  });
  const redact = redactWith(() => [last?.secretAccessKey, last?.sessionToken]);
  let signer: Promise<SmithySignatureV4.SignatureV4> | undefined;
  const getSigner = () =>
    (signer ??= import('@smithy/signature-v4').then(
      ({ SignatureV4 }) =>
        new SignatureV4({
          service: cfg.service,
          region,
          sha256: Sha256,
          // Through the refresher: a cached credential costs no fetch, and its failures are counted once.
          credentials: async () => creds.get(),
          uriEscapePath: true,
        }),
    ));

  async function sign(req: SignRequest): Promise<void> {
    // Credentials first, so a failure to get them is reported as such before anything is changed.
    await creds.get();
    const v4 = await getSigner();
    // Only headers promgate controls are signed; any other x-amz-* header (a client's) would have to be signed, so it goes.
    for (const name of Object.keys(req.headers)) if (name.startsWith('x-amz-')) delete req.headers[name];
    const pairs = parseQuery(req.url.search);
    req.url.search = canonicalSearch(pairs);
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of pairs) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const toSign: Record<string, string> = { host: req.url.host };
    const ct = req.headers['content-type'];
    if (typeof ct === 'string') toSign['content-type'] = ct;
    const signed = await v4.sign(
      {
        method: req.method,
        protocol: req.url.protocol,
        hostname: req.url.hostname,
        port: req.url.port === '' ? undefined : Number(req.url.port),
        path: req.url.pathname,
        query,
        headers: toSign,
        body: req.body ?? undefined,
      },
      {
        signingDate: deps.clock ? new Date(deps.clock.now()) : new Date(),
        signingRegion: region,
        signingService: cfg.service,
      },
    );
    // The signed headers, and only they, are copied onto the request; nothing changes them afterwards.
    for (const [k, v] of Object.entries(signed.headers)) req.headers[k.toLowerCase()] = v;
  }

  return {
    type: 'aws',
    needsBody: true,
    sign,
    status: () => creds.status(),
    redact,
    warm: () => creds.warm(),
    close: () => creds.close(),
  };
}
