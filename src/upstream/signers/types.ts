// What every upstream signer is: a function over the final request, plus what readiness and the pipeline need to know of it.
export type Headers = Record<string, string | string[]>;

/** The request exactly as it will be sent; a signer adds headers and may re-serialise the query (SigV4). */
export interface SignRequest {
  method: string;
  /** Full upstream URL, base path included; a signer may replace `search` with an equivalent canonical form. */
  url: URL;
  headers: Headers;
  /** Exact body bytes, or null for none. */
  body: Buffer | null;
}

export interface SignerStatus {
  ok: boolean;
  detail: string;
}

export interface UpstreamSigner {
  readonly type: 'bearer' | 'basic' | 'aws' | 'azure';
  /** True when the signature covers the payload: a streamed body is buffered (up to server.maxBodyBytes) first. */
  readonly needsBody: boolean;
  /** Synchronous when nothing has to be fetched (static credentials, a cached token). */
  sign(req: SignRequest): void | Promise<void>;
  /** Credentials state for /-/ready; absent for static credentials. */
  status?(): SignerStatus;
  /** Replaces every secret this signer holds in `text` (backend answers are logged; they may echo a token). */
  redact(text: string): string;
  /** Fetch credentials now, so /-/ready is truthful before the first request. */
  warm?(): void;
  close?(): void;
}

export interface SignerDeps {
  logger: {
    info(o: object, msg: string): void;
    warn(o: object, msg: string): void;
    error(o: object, msg: string): void;
  };
  /** Environment for AWS_REGION, AZURE_* (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  route: string;
}

/** Replaces each non-trivial secret in `text`. */
export function redactWith(secrets: () => readonly (string | undefined)[]): (text: string) => string {
  return (text) => {
    let out = text;
    for (const s of secrets()) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
    return out;
  };
}
