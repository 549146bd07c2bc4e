// Splits a cookie value too big for one cookie into name_0, name_1, … and joins them back (oauth2-proxy's layout).

/** Browsers keep at least 4096 bytes per cookie including name and attributes; stay well below. */
export const MAX_COOKIE_BYTES = 3800;
/** A session never needs more than this many chunks; more means garbage or an attack. */
export const MAX_CHUNKS = 16;

export interface CookiePart {
  name: string;
  value: string;
}

export function chunkName(name: string, i: number): string {
  return `${name}_${i}`;
}

/** One cookie when `name=value` fits, else `name_0`… each within the limit. The value must be ASCII (it is base64url). */
export function splitCookieValue(name: string, value: string, max = MAX_COOKIE_BYTES): CookiePart[] {
  if (name.length + 1 + value.length <= max) return [{ name, value }];
  const parts: CookiePart[] = [];
  let rest = value;
  for (let i = 0; rest.length > 0; i++) {
    const n = chunkName(name, i);
    const room = max - n.length - 1;
    parts.push({ name: n, value: rest.slice(0, room) });
    rest = rest.slice(room);
  }
  if (parts.length > MAX_CHUNKS)
    throw new Error(`session too large for cookies (${value.length} bytes); use the redis session store`);
  return parts;
}

/**
 * The whole value: the plain cookie when present, else the consecutive chunks name_0, name_1, … .
 * A missing or truncated chunk makes the joined value fail to open, which is what we want.
 */
export function joinCookieValue(cookies: ReadonlyMap<string, string>, name: string): string | undefined {
  const single = cookies.get(name);
  if (single !== undefined && single !== '') return single;
  let out = '';
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const part = cookies.get(chunkName(name, i));
    if (part === undefined || part === '') break;
    out += part;
  }
  return out === '' ? undefined : out;
}

/** Names of every cookie the client sent that belongs to `name` (the plain one and any chunk). */
export function cookieNamesOf(cookies: ReadonlyMap<string, string>, name: string): string[] {
  const out: string[] = [];
  const chunk = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d{1,2}$`);
  for (const k of cookies.keys()) if (k === name || chunk.test(k)) out.push(k);
  return out;
}

/** Names the client holds for `name` that the new parts do not overwrite: they must be cleared. */
export function staleCookieNames(
  cookies: ReadonlyMap<string, string>,
  name: string,
  parts: readonly CookiePart[],
): string[] {
  const keep = new Set(parts.map((p) => p.name));
  return cookieNamesOf(cookies, name).filter((n) => !keep.has(n));
}
