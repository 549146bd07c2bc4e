// The variables, functions and filters each kind of `{{ }}` template may use (the language itself is lib/template.ts).
import { TemplateError, checkTemplate, isTemplate, parseTemplate, type TemplateVocabulary } from '../lib/template.js';

/**
 * Header directives (routes[].headers): the identity, the session's tokens, a request cookie, the client
 * address, environment variables and files (both read when the config is loaded).
 */
export const HEADER_VOCAB: TemplateVocabulary = {
  variables: {
    user: 'string',
    email: 'string',
    subject: 'string',
    groups: 'list',
    claims: 'path',
    id_token: 'string',
    access_token: 'string',
    client_ip: 'string',
  },
  functions: { cookie: 1, env: 1, file: 1 },
  filters: ['join', 'lower', 'upper', 'trim'],
};

/** Response header directives: the same, without the session's tokens (they must never reach the browser). */
export const RESPONSE_HEADER_VOCAB: TemplateVocabulary = {
  ...HEADER_VOCAB,
  variables: Object.fromEntries(
    Object.entries(HEADER_VOCAB.variables).filter(([k]) => k !== 'id_token' && k !== 'access_token'),
  ),
};

/** Upstream URL templates (upstream.url, upstream.urls[].url): single identity values, each checked as a DNS label. */
export const URL_VOCAB: TemplateVocabulary = {
  variables: { user: 'string', email: 'string', subject: 'string', claims: 'path' },
  filters: ['lower'],
};

/** The problem with a template for this vocabulary, or undefined. */
export function templateProblem(text: string, vocab: TemplateVocabulary): string | undefined {
  if (!isTemplate(text)) return undefined;
  try {
    checkTemplate(parseTemplate(text), vocab);
    return undefined;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
}
