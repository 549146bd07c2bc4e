// The security headers every HTML page promgate serves carries (sign-in pages, sign-in errors, the portal).

/**
 * Nothing loads but the page's own inline styles: no scripts, frames, forms to elsewhere, or base URL. A page
 * that needs more (the portal's script) passes its own policy; frame-ancestors 'none' must stay in it.
 */
export const HTML_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const HTML_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': HTML_CSP,
  // frame-ancestors for browsers that read CSP; X-Frame-Options for those that do not.
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/**
 * Sets the headers on a response before its writeHead (which merges them): Content-Security-Policy (`csp`, by
 * default HTML_CSP), X-Frame-Options DENY, Referrer-Policy no-referrer, X-Content-Type-Options nosniff.
 */
export function htmlSecurityHeaders(res: { setHeader(name: string, value: string): unknown }, csp = HTML_CSP): void {
  if (!/frame-ancestors 'none'/.test(csp)) throw new Error("an HTML page's CSP must keep frame-ancestors 'none'");
  for (const [k, v] of Object.entries(HTML_SECURITY_HEADERS))
    res.setHeader(k, k === 'content-security-policy' ? csp : v);
}
