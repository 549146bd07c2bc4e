// The route and upstream keys of the multi-cluster front door: methods, stripPrefix, rewrite, header directives and identity-chosen upstreams.
import { z } from 'zod';
import { goRegexError } from '../lib/re2.js';
import { parseTemplate } from '../lib/template.js';
import { httpUrl, ruleMatchSchema } from './schema-common.js';
import { HEADER_VOCAB, RESPONSE_HEADER_VOCAB, URL_VOCAB, templateProblem } from './templates.js';
import type { TemplateVocabulary } from '../lib/template.js';

/** An RFC 9110 field name. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not an HTTP header name');
/** A field name where `*` stands for any run of characters (`X-Debug-*`). */
const headerPattern = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not an HTTP header name or pattern');

/** Headers whose framing or connection meaning promgate owns; a directive may not touch them. */
export const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'content-length',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
]);

const headerValue = (vocab: TemplateVocabulary) =>
  z.string().superRefine((v, ctx) => {
    if (/[\0\r\n]/.test(v)) ctx.addIssue({ code: 'custom', message: 'a header value may not contain CR, LF or NUL' });
    const problem = templateProblem(v, vocab);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const headerMap = (vocab: TemplateVocabulary) =>
  z.record(headerName, headerValue(vocab)).superRefine((m, ctx) => {
    for (const k of Object.keys(m))
      if (RESERVED_HEADERS.has(k.toLowerCase()))
        ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" is a connection header promgate manages` });
  });

const headerOpsSchema = (vocab: TemplateVocabulary) =>
  z.strictObject({
    remove: z
      .array(headerPattern)
      .default([])
      .describe(
        'Header names to remove (case-insensitive; * matches any run of characters: X-Debug-*). Applied first.',
      ),
    set: headerMap(vocab)
      .default({})
      .describe(
        'Headers to set, replacing any value. Values are templates ({{ user }}, {{ cookie "name" }}, …); one that resolves to nothing removes the header.',
      ),
    add: headerMap(vocab)
      .default({})
      .describe('Headers to add beside any existing value (a second field line). Applied last.'),
  });

export const headerDirectivesSchema = z
  .strictObject({
    request: headerOpsSchema(HEADER_VOCAB)
      .optional()
      .describe('Applied to the upstream request after header hygiene, before signing.'),
    response: headerOpsSchema(RESPONSE_HEADER_VOCAB)
      .optional()
      .describe("Applied to the answer before it reaches the client (the session's tokens are not available here)."),
  })
  .describe('Header directives (see docs/front-door.md): remove, then set, then add.');

/** An upstream URL, or a template of one whose every value is checked as a DNS label at request time. */
export const upstreamUrl = z.string().superRefine((v, ctx) => {
  const problem = templateProblem(v, URL_VOCAB);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return;
  }
  // The template's shape must be a URL whatever the value; "x" stands for every value (a DNS label).
  const sample = v.includes('{{')
    ? parseTemplate(v)
        .map((p) => (typeof p === 'string' ? p : 'x'))
        .join('')
    : v;
  const r = httpUrl.safeParse(sample);
  if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message });
});

export const upstreamFrontDoorFields = {
  urls: z
    .array(
      z.strictObject({
        match: ruleMatchSchema.describe('Who goes to this URL: users, emails, groups, claims (as tenant rules match).'),
        url: upstreamUrl,
      }),
    )
    .default([])
    .describe('Upstreams chosen by identity: the first entry whose match fits wins; upstream.url is the default.'),
  maxPools: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(256)
    .describe(
      'With a templated url or urls: connection pools kept, least recently used closed first (gracefully, after their requests).',
    ),
};

export const routeFrontDoorFields = {
  methods: z
    .array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']))
    .min(1)
    .optional()
    .describe('Allowed HTTP methods (others get 405 with Allow). Default: any the endpoint table allows.'),
  stripPrefix: z
    .boolean()
    .optional()
    .describe(
      'The upstream sees the path without the route prefix. Default true (what promgate always did); false forwards the whole path, for a backend started with --web.route-prefix=<prefix>.',
    ),
  rewrite: z
    .strictObject({
      regex: z.string().superRefine((v, ctx) => {
        const e = goRegexError(v);
        if (e) ctx.addIssue({ code: 'custom', message: e });
      }),
      replacement: z.string().describe('$1, $<name>: groups of regex. The result must start with /.'),
    })
    .optional()
    .describe(
      'RE2 regex replaced (first match) in the path below the prefix, before the endpoint table reads it: the enforcer checks the rewritten path.',
    ),
  headers: headerDirectivesSchema.optional(),
};
