// Post-login and post-logout redirect targets: where they may come from, and which ones are safe (no open redirects).

/**
 * Whitelist entries (oauth2-proxy --whitelist-domain):
 *  - "example.com"        that host only, default port only (http 80 / https 443)
 *  - ".example.com"       example.com and every subdomain ("*.example.com" is the same)
 *  - "example.com:8443"   that port only
 *  - "example.com:*"      any port
 * Relative paths ("/graph?x") are always allowed when they cannot be read as another host.
 */
interface Entry {
  host: string;
  subdomains: boolean;
  port: string | '*' | '';
}

function parseEntry(raw: string): Entry | null {
  let s = raw.trim().toLowerCase();
  if (s === '') return null;
  let port: Entry['port'] = '';
  const m = /^(.*?)(?::(\*|\d{1,5}))?$/.exec(s);
  if (m && m[2] !== undefined && !(m[1]!.includes(':') && !m[1]!.startsWith('['))) {
    s = m[1]!;
    port = m[2] as Entry['port'];
  }
  let subdomains = false;
  if (s.startsWith('*.')) s = s.slice(1);
  if (s.startsWith('.')) {
    subdomains = true;
    s = s.slice(1);
  }
  if (s === '' || /[\s/\\@?#]/.test(s)) return null;
  return { host: s, subdomains, port };
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]/;
/** oauth2-proxy's pattern: //, /\, / /, /./, /../ (with any whitespace between) anywhere in the path. */
const SLASH_TRICK = /[/\\](?:[\s\v]*|\.{1,2})[/\\]/;
const BASE = new URL('http://promgate.invalid/');

/**
 * The value as written and after each round of percent-decoding its ASCII escapes (%2F, %5C, %09, …),
 * up to four rounds, so double-encoded tricks are seen. Escapes of non-ASCII bytes and stray "%" signs
 * (a PromQL modulo in a query) are left alone: they cannot spell a slash or a control character.
 */
function decodings(v: string): string[] {
  const out = [v];
  let cur = v;
  for (let i = 0; i < 4; i++) {
    const next = cur.replace(/%([0-7][0-9a-fA-F])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === cur) break;
    out.push(next);
    cur = next;
  }
  return out;
}

function pathPart(v: string): string {
  const cut = v.search(/[?#]/);
  return cut === -1 ? v : v.slice(0, cut);
}

function safeRelative(rd: string): string | null {
  for (const v of decodings(rd)) {
    if (v[0] !== '/' || CONTROL.test(v)) return null;
    if (/^[/\\][\s\u0000-\u001f]*[/\\]/.test(v) || SLASH_TRICK.test(pathPart(v)) || pathPart(v).includes('\\'))
      return null;
    if (new URL(v, BASE).origin !== BASE.origin) return null;
  }
  const u = new URL(rd, BASE);
  return u.pathname + u.search + u.hash;
}

export type RedirectValidator = (rd: string | null | undefined) => string | null;

/** The safe, normalised target, or null: the caller then uses "/". */
export function createRedirectValidator(whitelistDomains: readonly string[]): RedirectValidator {
  const entries = whitelistDomains.map(parseEntry).filter((e): e is Entry => e !== null);
  const hostAllowed = (u: URL): boolean => {
    const host = u.hostname.toLowerCase();
    return entries.some((e) => {
      const hostOk = host === e.host || (e.subdomains && host.endsWith('.' + e.host));
      return hostOk && (e.port === '*' || e.port === u.port);
    });
  };
  return (rd) => {
    if (typeof rd !== 'string' || rd === '' || rd.length > 8192) return null;
    if (CONTROL.test(rd)) return null;
    if (rd[0] === '/') return safeRelative(rd);
    if (!/^https?:\/\//i.test(rd)) return null;
    if (CONTROL_OR_SPACE.test(rd)) return null;
    // The authority decides where the browser goes: no userinfo, backslash, escape or whitespace there, in any decoding.
    for (const v of decodings(rd)) {
      const authority = /^https?:\/\/([^/?#]*)/i.exec(v)?.[1];
      if (authority === undefined || /[\\@%\s\u0000-\u001f\u007f]/.test(authority)) return null;
    }
    let u: URL;
    try {
      u = new URL(rd);
    } catch {
      return null;
    }
    if (u.username !== '' || u.password !== '' || (u.protocol !== 'http:' && u.protocol !== 'https:')) return null;
    return hostAllowed(u) ? u.href : null;
  };
}

/** Lets a path through only if it is not under the sign-in prefix (returning to /oauth2/… would loop). */
export function outsidePrefix(path: string, proxyPrefix: string): boolean {
  const p = path.split(/[?#]/)[0]!;
  return !(p === proxyPrefix || p.startsWith(proxyPrefix + '/'));
}
