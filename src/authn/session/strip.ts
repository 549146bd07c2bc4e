// Removes promgate's session and CSRF cookies (name, name_0…, name_csrf_…) from a Cookie header before it goes upstream.
export function stripSessionCookies(cookieHeader: string, name: string): string {
  if (!cookieHeader.includes(name)) return cookieHeader;
  return cookieHeader
    .split(';')
    .filter((part) => {
      const n = part.slice(0, part.indexOf('=') === -1 ? undefined : part.indexOf('=')).trim();
      return !(n === name || (n.startsWith(name + '_') && /^_(\d+|csrf_.*)$/.test(n.slice(name.length))));
    })
    .map((p) => p.trim())
    .join('; ');
}
