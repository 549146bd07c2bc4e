// Parser for htpasswd files: bcrypt ($2a$/$2b$/$2y$) and argon2id lines only, problems named by line.
import { classifyPassword, type StoredPassword } from './password.js';
import { FileConfigError } from './reloadable.js';

export interface HtpasswdEntry {
  username: string;
  password: StoredPassword;
  line: number;
}

/**
 * `user:hash` per line; blank lines and `#` comments are skipped. Apache's other formats ({SHA},
 * $apr1$ MD5, crypt) are fast to brute-force, so a line using one is an error that names the line
 * rather than a user who silently cannot log in. Duplicate usernames are refused (Apache's htpasswd
 * tool never writes them, and the first-or-last-wins choice would be a guess).
 */
export function parseHtpasswd(text: string, file: string): HtpasswdEntry[] {
  const problems: string[] = [];
  const entries: HtpasswdEntry[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    const colon = s.indexOf(':');
    if (colon <= 0) {
      problems.push(`${file}:${line}: expected "username:hash"`);
      return;
    }
    const username = s.slice(0, colon);
    const c = classifyPassword(s.slice(colon + 1), { plaintextAllowed: false, hashesOnly: true });
    if (!c.ok) {
      problems.push(`${file}:${line}: user "${username}": ${c.problem}`);
      return;
    }
    const seen = firstLine.get(username);
    if (seen !== undefined) {
      problems.push(`${file}:${line}: duplicate username "${username}" (first at line ${seen})`);
      return;
    }
    firstLine.set(username, line);
    entries.push({ username, password: c.stored, line });
  });
  if (problems.length > 0) throw new FileConfigError(problems);
  return entries;
}
