// The `server.tls` (the listener's own TLS) and `server.auditLog` parts of the config schema.
import { z } from 'zod';
import { byteSize } from './schema-common.js';

export const serverTlsSchema = z
  .strictObject({
    certFile: z
      .string()
      .describe(
        'PEM certificate (chain) the listener presents; re-read when it changes, open connections keep theirs.',
      ),
    keyFile: z.string().describe('PEM private key of certFile; re-read with it.'),
    minVersion: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default('TLSv1.2')
      .describe('Oldest TLS version accepted (older handshakes are refused).'),
    http2: z
      .boolean()
      .default(false)
      .describe('Offer HTTP/2 through ALPN (h2), besides HTTP/1.1 for clients that do not ask for it.'),
    clientCaFile: z
      .string()
      .optional()
      .describe(
        'PEM CA(s) that sign client certificates; enables the `cert` auth method (certificate subject → identity).',
      ),
    clientAuth: z
      .enum(['request', 'require'])
      .default('request')
      .describe(
        'With clientCaFile: `request` asks for a certificate (one from another CA is refused at the handshake; none lets other methods try), `require` refuses the handshake without one.',
      ),
    metrics: z
      .boolean()
      .default(false)
      .describe(
        'Serve the separate metricsPort over TLS too (same certificate, no client certificate asked). Default: plain HTTP there.',
      ),
  })
  .describe('Serve HTTPS (and optionally HTTP/2) on the main port instead of plain HTTP.');

export const auditLogSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Write one audit line for every decision (allowed or refused).'),
    file: z
      .string()
      .optional()
      .describe(
        'Write the audit lines to this file (rotated by size) instead of stdout, where the access line carries them.',
      ),
    maxSize: byteSize().prefault('100MiB').describe('Rotate the audit file when it reaches this size.'),
    maxFiles: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe('Rotated audit files kept besides the current one.'),
  })
  .describe('The audit log: identity, tenant, route, endpoint, decision and rewritten query of every request.');
