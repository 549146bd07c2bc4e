// Who may pass: oauth2-proxy's email-domain, allowed-group and allowed-email rules, and the /oauth2/auth query limits.

export interface AccessRules {
  emailDomains: readonly string[];
  allowedGroups: readonly string[];
  allowedEmails: readonly string[];
}

export interface Subject {
  email?: string | undefined;
  groups: readonly string[];
}

const WS_OR_CONTROL = /[\s\u0000-\u001f\u007f]/;

/** Exactly one "@" with something on both sides; "a@b@evil.com" is refused (it parses differently in different libraries). */
export function validEmail(email: string): boolean {
  const at = email.indexOf('@');
  return at > 0 && at === email.lastIndexOf('@') && at < email.length - 1 && !WS_OR_CONTROL.test(email);
}

function domainOf(email: string): string {
  return email.slice(email.indexOf('@') + 1).toLowerCase();
}

/** "example.com" matches exactly; ".example.com" or "*.example.com" match its subdomains only. */
export function domainMatches(domain: string, entry: string): boolean {
  const e = entry.trim().toLowerCase();
  if (e === '') return false;
  if (e.startsWith('*.')) return domain.endsWith(e.slice(1));
  if (e.startsWith('.')) return domain.endsWith(e);
  return domain === e;
}

/**
 * The email rule: listed in allowedEmails, or in an allowed domain, or emailDomains has "*" (then even
 * users without an email pass). A malformed email is refused whatever the lists say.
 */
export function emailAllowed(
  email: string | undefined,
  rules: Pick<AccessRules, 'emailDomains' | 'allowedEmails'>,
): boolean {
  if (email !== undefined && !validEmail(email)) return false;
  if (rules.emailDomains.includes('*')) return true;
  if (email === undefined) return false;
  const lower = email.toLowerCase();
  if (rules.allowedEmails.some((e) => e.trim().toLowerCase() === lower)) return true;
  const domain = domainOf(email);
  return rules.emailDomains.some((d) => domainMatches(domain, d));
}

export function groupsAllowed(groups: readonly string[], allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const have = new Set(groups);
  return allowed.some((g) => have.has(g));
}

/** The configured rules: email rule AND group rule. */
export function isAllowed(s: Subject, rules: AccessRules): boolean {
  return emailAllowed(s.email, rules) && groupsAllowed(s.groups, rules.allowedGroups);
}

/** The sign-in check of an OIDC config (emailDomains, allowedEmails, allowedGroups), for the session authenticator. */
export function signInCheck(cfg: AccessRules): (s: Subject) => boolean {
  const rules: AccessRules = {
    emailDomains: cfg.emailDomains,
    allowedGroups: cfg.allowedGroups,
    allowedEmails: cfg.allowedEmails,
  };
  return (s) => isAllowed(s, rules);
}

function csv(v: string | null): string[] | undefined {
  if (v === null) return undefined;
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/**
 * The per-location limits nginx/Traefik can put on /oauth2/auth: allowed_groups, allowed_emails and
 * allowed_email_domains, each a comma-separated list. Every one given must pass (any entry of it).
 */
export function queryAllows(s: Subject, query: URLSearchParams): boolean {
  const groups = csv(query.get('allowed_groups'));
  if (groups && !groupsAllowed(s.groups, groups)) return false;
  const emails = csv(query.get('allowed_emails'));
  const domains = csv(query.get('allowed_email_domains'));
  if (emails || domains) {
    if (s.email === undefined || !validEmail(s.email)) return false;
    if (emails && !emails.some((e) => e.toLowerCase() === s.email!.toLowerCase())) return false;
    if (domains && !domains.includes('*') && !domains.some((d) => domainMatches(domainOf(s.email!), d))) return false;
  }
  return true;
}
