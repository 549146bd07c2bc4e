// Upstream credentials, added as the very last header change before a request leaves (after every rewrite).
import { readFileSync } from 'node:fs';
import type { UpstreamConfig } from '../../config/schema.js';

export type Signer = (headers: Record<string, string | string[]>) => void;

/** A token file is re-read at most every 30 s, so rotated Kubernetes service-account tokens are picked up. */
function fileReader(path: string): () => string {
  let value = readFileSync(path, 'utf8').trim();
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

export function createSigner(cfg: UpstreamConfig): Signer | undefined {
  const a = cfg.auth;
  switch (a.type) {
    case 'none':
      return undefined;
    case 'bearer': {
      const token = a.tokenFile && !a.token ? fileReader(a.tokenFile) : () => a.token ?? '';
      return (h) => {
        h.authorization = `Bearer ${token()}`;
      };
    }
    case 'basic': {
      const value = 'Basic ' + Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64');
      return (h) => {
        h.authorization = value;
      };
    }
    case 'aws':
    case 'azure':
      // Refused at config load (see config/semantics.ts) until the signer lands; never silently unsigned.
      throw new Error(`upstream.auth.type ${a.type} is not available in this version`);
  }
}
