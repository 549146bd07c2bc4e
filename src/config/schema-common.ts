// Small zod building blocks shared by the config schema files.
import { z } from 'zod';
import { goRegexError, wholeMatcher } from '../lib/re2.js';
import { LABEL_NAME_RE } from './derived.js';
import { parseByteSize, parseDuration } from './duration.js';

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
  .refine(
    (v) => v.startsWith('/') && !v.includes('..') && !/[\s?#]/.test(v),
    'must be an absolute path like /api, without ?, # or ..',
  );

/** A tenant's label values: a string or a non-empty list of strings (prometheus-multi-tenant-proxy form). */
export const labelValues = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const commaList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== ''));

/**
 * Check a tenant regex as the backends read it (Go RE2, anchored, see lib/re2.ts): refuse what Go's regexp
 * refuses, with Go's message, and a pattern that matches the empty string. Whether `.` matches "\n"
 * cannot change whether "" matches, so one reading decides for every backend.
 */
export function checkTenantRegex(pattern: string): string | undefined {
  const error = goRegexError(pattern);
  if (error !== undefined) return `not a valid Go (RE2) regex, which Prometheus and Alertmanager require: ${error}`;
  if (wholeMatcher(pattern, 'unknown')?.('') !== false)
    return `regex "${pattern}" matches the empty string, so it would admit series without the label`;
  return undefined;
}

/** Refuse a regex that Go's regexp refuses (oauth2-proxy's skip-auth and API routes are Go regexes). */
export const goRegex = z.string().superRefine((v, ctx) => {
  const error = goRegexError(v);
  if (error !== undefined) ctx.addIssue({ code: 'custom', message: `not a valid Go (RE2) regex: ${error}` });
});

/** Who a tenant rule or an identity-chosen upstream applies to: every field given must match; globs allowed. */
export const ruleMatchSchema = z.strictObject({
  users: z.array(z.string()).optional(),
  emails: z.array(z.string()).optional(),
  groups: z.array(z.string()).optional(),
  claims: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
});

/** A zod field accepting a duration string or a number of milliseconds; yields milliseconds. */
export function duration() {
  return z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a duration: "${v}" (use e.g. 500ms, 30s, 5m, 168h)` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A byte size: a number, or "64KiB", "10MB". */
export function byteSize() {
  return z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const bytes = parseByteSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a size: "${v}" (use e.g. 65536, 64KiB, 10MiB)` });
      return z.NEVER;
    }
    return bytes;
  });
}
