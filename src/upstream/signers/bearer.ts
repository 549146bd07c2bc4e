// A static bearer token (token, or tokenFile re-read so rotated Kubernetes service-account tokens are picked up).
import { readFileSync } from 'node:fs';
import { redactWith, type UpstreamSigner } from './types.js';

/** A token file is re-read at most every 30 s. */
function fileReader(path: string, initial: string | undefined): () => string {
  let value = initial ?? readFileSync(path, 'utf8').trim();
  let at = Date.now();
  return () => {
    if (Date.now() - at > 30_000) {
      at = Date.now();
      try {
        value = readFileSync(path, 'utf8').trim();
      } catch {
        // keep the last good token; the upstream's 401 will tell the operator
      }
    }
    return value;
  };
}

export function createBearerSigner(a: { token?: string; tokenFile?: string }): UpstreamSigner {
  // The config loader has already read tokenFile into token; the file is still re-read for rotation.
  const token = a.tokenFile ? fileReader(a.tokenFile, a.token?.trim()) : () => a.token ?? '';
  return {
    type: 'bearer',
    needsBody: false,
    sign(req) {
      req.headers.authorization = `Bearer ${token()}`;
    },
    redact: redactWith(() => [token()]),
  };
}
