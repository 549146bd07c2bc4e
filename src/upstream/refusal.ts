// An upstream's 401/403 to a request promgate signed: kept out of the client's answer, its reason kept for the log.
const MAX_REASON_BYTES = 2048;

/** The upstream refused promgate's own credentials; `reason` is the backend's words (redact before logging). */
export class UpstreamRefused extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`upstream answered ${status}`);
    this.name = 'UpstreamRefused';
  }
}

export const isRefusal = (status: number): boolean => status === 401 || status === 403;

/** Collects the first bytes of a refusal's body, and the headers that carry a reason (AWS, Entra ID, RFC 6750). */
export class RefusalCapture {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly status: number,
    private readonly headers: Record<string, string | string[] | undefined>,
  ) {}

  data(chunk: Buffer): void {
    if (this.size >= MAX_REASON_BYTES) return;
    const part = chunk.subarray(0, MAX_REASON_BYTES - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }

  error(): UpstreamRefused {
    const parts: string[] = [];
    for (const h of ['www-authenticate', 'x-amzn-errortype', 'x-ms-failure-cause']) {
      const v = this.headers[h];
      if (v !== undefined) parts.push(`${h}: ${String(v)}`);
    }
    const body = Buffer.concat(this.chunks, this.size).toString('utf8').trim();
    if (body !== '') parts.push(body);
    return new UpstreamRefused(this.status, parts.join('; ') || '(no reason given)');
  }
}
