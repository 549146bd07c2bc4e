// Upstream credentials, added as the very last change before a request leaves (after every rewrite); one file per scheme.
import type { Readable } from 'node:stream';
import type { UpstreamConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors.js';
import { createAwsSigner } from './aws.js';
import { createAzureSigner } from './azure.js';
import { createBasicSigner } from './basic.js';
import { createBearerSigner } from './bearer.js';
import { CredentialUnavailable } from './refresh.js';
import type { Headers, SignerDeps, UpstreamSigner } from './types.js';

export type { UpstreamSigner, SignRequest, SignerStatus, SignerDeps } from './types.js';

/** undefined for `none` and `passthrough` (the caller's own credential is added with the identity headers). */
export function createSigner(cfg: UpstreamConfig, deps: SignerDeps): UpstreamSigner | undefined {
  const a = cfg.auth;
  switch (a.type) {
    case 'none':
    case 'passthrough':
      return undefined;
    case 'bearer':
      return createBearerSigner(a);
    case 'basic':
      return createBasicSigner(a);
    case 'aws':
      return createAwsSigner(a, deps);
    case 'azure':
      return createAzureSigner(a, deps);
  }
}

/** One upstream call as the pipeline is about to send it; signing may change its query (canonical form) and body (buffered). */
export interface UpstreamCall {
  method: string;
  /** Relative to the upstream base path. */
  pathAndQuery: string;
  headers: Headers;
  body: Buffer | Readable | null;
}

/** Reads a streamed request body whole, refusing more than `limit` bytes (413), as the rewritten bodies are. */
async function readBody(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const chunk = c as Buffer;
    size += chunk.length;
    if (size > limit) throw new GatewayError('PG_BODY_TOO_LARGE', `request body is over the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export interface SignTarget {
  origin: string;
  basePath: string;
  maxBodyBytes: number;
  route: string;
}

/**
 * Signs `call` in place. The URL the signer sees is built from exactly what will be sent, and what is sent
 * afterwards is read back from it, so the signature covers the final method, path, query and body bytes.
 */
export function signCall(signer: UpstreamSigner, t: SignTarget, call: UpstreamCall): void | Promise<void> {
  if (!signer.needsBody) {
    const r = signer.sign({
      method: call.method,
      url: new URL(t.origin + t.basePath + call.pathAndQuery),
      headers: call.headers,
      body: Buffer.isBuffer(call.body) ? call.body : null,
    });
    return r ? r.catch((e: unknown) => rethrow(e, t.route)) : undefined;
  }
  return (async () => {
    if (call.body !== null && !Buffer.isBuffer(call.body)) {
      call.body = await readBody(call.body, t.maxBodyBytes);
    }
    if (call.body !== null) call.headers['content-length'] = String(call.body.length);
    const url = new URL(t.origin + t.basePath + call.pathAndQuery);
    const path = t.basePath + call.pathAndQuery.split('?')[0]!;
    if (url.pathname !== path) throw new GatewayError('PG_BAD_REQUEST', 'the upstream path cannot be signed as sent');
    try {
      await signer.sign({ method: call.method, url, headers: call.headers, body: call.body });
    } catch (e) {
      rethrow(e, t.route);
    }
    call.pathAndQuery = url.pathname.slice(t.basePath.length) + url.search;
  })();
}

function rethrow(e: unknown, route: string): never {
  if (e instanceof CredentialUnavailable)
    throw new GatewayError(
      'PG_UPSTREAM_CREDENTIALS',
      `no credentials for the upstream of route ${route} (the log says why)`,
      { cause: e },
    );
  throw e;
}
