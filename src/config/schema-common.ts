// Small zod building blocks shared by the config schema files.
import { z } from 'zod';

export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const labelName = z.string().regex(LABEL_NAME_RE, 'not a valid Prometheus label name');

export const httpUrl = z.string().superRefine((v, ctx) => {
  let u: URL;
  try {
    // "prometheus:9090" parses as scheme "prometheus:"; a base URL always has "://".
    if (!v.includes('://')) throw new Error('no scheme');
    u = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a URL: "${v}" (it needs a scheme, e.g. http://prometheus:9090)` });
    return;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `unsupported scheme "${u.protocol}" in "${v}" (use http:// or https://)` });
  }
  if (u.username || u.password) {
    ctx.addIssue({ code: 'custom', message: 'credentials in the URL are not allowed; use upstream.auth' });
  }
});

export const urlPath = z
  .string()
  .refine((v) => v.startsWith('/') && !v.includes('..') && !/[\s?#]/.test(v), 'must be an absolute path like /api, without ?, # or ..');

/** A tenant's label values: a string or a non-empty list of strings (prometheus-multi-tenant-proxy form). */
export const labelValues = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const commaList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== ''));

/** Compile a regex pattern as Prometheus would (anchored) and refuse one that matches the empty string. */
export function checkTenantRegex(pattern: string): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`, 'su');
  } catch (e) {
    return `not a valid regex: ${(e as Error).message}`;
  }
  if (re.test('')) return `regex "${pattern}" matches the empty string, so it would admit series without the label`;
  return undefined;
}
