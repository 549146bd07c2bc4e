// The session a login creates: its shape, its (de)serialisation, and the claim rules that derive user, email and groups.
import { z } from 'zod';

const jsonRecord = z.record(z.string(), z.unknown());

const sessionSchema = z.object({
  v: z.literal(1),
  sid: z.string().min(8),
  user: z.string(),
  email: z.string().optional(),
  groups: z.array(z.string()),
  preferredUsername: z.string().optional(),
  idToken: z.string().optional(),
  accessToken: z.string().optional(),
  refreshToken: z.string().optional(),
  /** Access-token expiry (ms since epoch), when the provider said. */
  expiresAt: z.number().optional(),
  /** When these tokens were obtained (login or last refresh); cookie-refresh counts from here. */
  createdAt: z.number(),
  /** When the user logged in; the session ends at loginAt + cookie-expire whatever happens. */
  loginAt: z.number(),
  claims: jsonRecord,
});

export type SessionState = Omit<z.output<typeof sessionSchema>, 'v'>;

export function encodeSession(s: SessionState): string {
  return JSON.stringify({ v: 1, ...s });
}

/** null for anything that is not a session we wrote (old format, corrupted). */
export function decodeSession(data: Buffer | string): SessionState | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return null;
  }
  const r = sessionSchema.safeParse(parsed);
  if (!r.success) return null;
  const { v: _v, ...rest } = r.data;
  return rest;
}

export interface ClaimNames {
  userClaim: string;
  emailClaim: string;
  groupsClaim: string;
}

/** A claim by literal name, else by dotted path (realm_access.roles). */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (name in claims) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function groupsFrom(v: unknown): string[] {
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (!Array.isArray(v)) return [];
  return v.filter((g): g is string => typeof g === 'string' && g !== '');
}

/** Claims that only served the login itself and would just make the cookie bigger. */
const DROP = new Set(['nonce', 'at_hash', 'c_hash', 's_hash']);

/**
 * user = the configured user claim, else email, else sub (oauth2-proxy's user / preferred_username split);
 * groups may be a list or a single string.
 */
export function sessionFromClaims(
  claims: Readonly<Record<string, unknown>>,
  names: ClaimNames,
  tokens: { idToken?: string; accessToken?: string; refreshToken?: string; expiresIn?: number },
  now: number,
  keep?: { sid: string; loginAt: number },
): SessionState {
  const email = str(claimAt(claims, names.emailClaim));
  const sub = str(claims.sub) ?? '';
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) if (!DROP.has(k)) kept[k] = v;
  return {
    sid: keep?.sid ?? '',
    user: str(claimAt(claims, names.userClaim)) ?? email ?? sub,
    email,
    groups: groupsFrom(claimAt(claims, names.groupsClaim)),
    preferredUsername: str(claims.preferred_username),
    idToken: tokens.idToken,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.expiresIn === undefined ? undefined : now + tokens.expiresIn * 1000,
    createdAt: now,
    loginAt: keep?.loginAt ?? now,
    claims: kept,
  };
}
