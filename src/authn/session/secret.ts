// Turns cookie-secret strings into AES-256 keys: oauth2-proxy's accepted encodings, strict about length, one key per purpose.
import { ConfigError, type ConfigIssue } from '../../config/errors.js';
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

const B64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const VALID_DECODED = new Set([16, 24, 32]);

/**
 * A cookie secret is either exactly 32 raw bytes, or base64/base64url text that decodes to 16, 24 or 32
 * bytes (what `openssl rand -base64 32` and oauth2-proxy's documented generators produce).
 * Anything else is refused: a short password would make every session forgeable by brute force.
 */
export function parseCookieSecret(text: string): Buffer {
  const s = text.trim();
  if (B64.test(s)) {
    const decoded = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    // Buffer.from ignores trailing garbage; re-encoding proves the text really was base64 of these bytes.
    const canonical = decoded.toString('base64').replace(/=+$/, '');
    const given = s.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    if (canonical === given && VALID_DECODED.has(decoded.length)) return decoded;
  }
  const raw = Buffer.from(s, 'utf8');
  if (raw.length === 32) return raw;
  throw new Error(
    `cookie secret must be 32 bytes, or base64/base64url of 16, 24 or 32 bytes (got ${raw.length} characters); ` +
      'generate one with: openssl rand -base64 32 | tr -- "+/" "-_"',
  );
}

/** Every secret that would be refused, each at its key path (the list itself when it is empty). */
export function cookieSecretProblems(texts: readonly string[]): ConfigIssue[] {
  const at = ['auth', 'oidc', 'cookie', 'secret'];
  if (texts.length === 0) return [{ path: at, message: 'is required (oauth2-proxy --cookie-secret)' }];
  const out: ConfigIssue[] = [];
  texts.forEach((t, i) => {
    try {
      parseCookieSecret(t);
    } catch (e) {
      out.push({ path: [...at, i], message: (e as Error).message });
    }
  });
  return out;
}

/** Every configured secret, newest first: the list itself, else the lines of secretFile. */
export function loadCookieSecrets(cfg: {
  secret?: readonly string[] | undefined;
  secretFile?: string | undefined;
}): Buffer[] {
  let texts: string[] = [...(cfg.secret ?? [])];
  if (texts.length === 0 && cfg.secretFile) {
    texts = readFileSync(cfg.secretFile, 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
  }
  const problems = cookieSecretProblems(texts);
  if (problems.length > 0) throw ConfigError.of(problems);
  return texts.map(parseCookieSecret);
}

/**
 * Derives an independent 256-bit key for one purpose (session cookie, CSRF cookie, Redis ticket), so a
 * value sealed for one purpose can never be opened as another, and 16/24-byte secrets still give AES-256.
 */
export function deriveKey(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from('promgate-cookie-v1'), Buffer.from(purpose), 32));
}
