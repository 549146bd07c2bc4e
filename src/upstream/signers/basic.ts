// Static basic credentials for the upstream.
import { redactWith, type UpstreamSigner } from './types.js';

export function createBasicSigner(a: { username: string; password?: string }): UpstreamSigner {
  const encoded = Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64');
  const value = 'Basic ' + encoded;
  return {
    type: 'basic',
    needsBody: false,
    sign(req) {
      req.headers.authorization = value;
    },
    redact: redactWith(() => [a.password, encoded]),
  };
}
