// Parser for the prometheus-multi-tenant-proxy users file, with file:line messages for every problem.
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type YAMLMap } from 'yaml';
import { LABEL_NAME_RE } from '../config/derived.js';
import { classifyPassword, type StoredPassword } from './password.js';
import { FileConfigError } from './reloadable.js';

export interface UsersFileEntry {
  username: string;
  password: StoredPassword;
  /** `namespace` and `namespaces` merged, deduplicated, in file order. */
  namespaces: readonly string[];
  /** As written: one value or a list per label (an empty list means no constraint on that label). */
  labels: Readonly<Record<string, string | readonly string[]>>;
  line: number;
}

const USER_KEYS = new Set(['username', 'password', 'namespace', 'namespaces', 'labels']);

/**
 * Parse `users: [{username, password, namespace?, namespaces?, labels?}]`.
 *
 * The failsafe schema keeps every scalar as the text the operator typed, so `password: 0123` is the
 * password "0123" (the core schema would read the number 123), as Go's yaml does for a string field.
 *
 * Duplicate usernames are refused. prometheus-multi-tenant-proxy's own README lists `Multiple` twice
 * with different passwords, and pmtp picks the entry whose password matches, so the password chooses
 * the tenant. We refuse that: a username must name one subject for audit logs, tenant rules and the
 * credential cache, and a typo in one entry must not silently hand out another entry's tenant.
 */
export function parseUsersFile(text: string, file: string, opts: { plaintextAllowed: boolean }): UsersFileEntry[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const problems: string[] = [];
  const lineOf = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const fail = (n: Node | null | undefined, path: string, msg: string): void => {
    problems.push(`${file}:${lineOf(n)}: ${path ? `${path}: ` : ''}${msg}`);
  };
  for (const e of doc.errors) problems.push(`${file}:${e.linePos?.[0].line ?? 1}: ${e.message.split('\n')[0]}`);
  if (problems.length > 0) throw new FileConfigError(problems);

  const root = doc.contents;
  if (!isMap(root)) throw new FileConfigError([`${file}:${lineOf(root)}: expected a map with a "users" list`]);
  let usersNode: unknown;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'users') usersNode = pair.value;
    else fail(pair.key as Node, key, 'unknown key (expected only "users")');
  }
  if (!isSeq(usersNode)) {
    fail(usersNode as Node, 'users', 'expected a list of users');
    throw new FileConfigError(problems);
  }

  const entries: UsersFileEntry[] = [];
  const firstLine = new Map<string, number>();
  usersNode.items.forEach((item, i) => {
    const at = `users[${i}]`;
    if (!isMap(item)) return fail(item as Node, at, 'expected a map with username and password');
    const e = parseUser(item, at, fail, opts);
    if (!e) return;
    const seen = firstLine.get(e.username);
    if (seen !== undefined)
      return fail(
        item,
        `${at}.username`,
        `duplicate username "${e.username}" (first at line ${seen}); usernames must be unique`,
      );
    firstLine.set(e.username, lineOf(item));
    entries.push({ ...e, line: lineOf(item) });
  });
  if (problems.length > 0) throw new FileConfigError(problems);
  return entries;
}

type Fail = (n: Node | null | undefined, path: string, msg: string) => void;

/** A plain empty or null-looking scalar means "not set", as in Go (the failsafe schema has no null). */
function isNullish(n: unknown): boolean {
  return (
    n === null ||
    n === undefined ||
    (isScalar(n) && n.type === 'PLAIN' && /^(?:|~|null|Null|NULL)$/.test(String(n.value)))
  );
}

function str(n: unknown, path: string, fail: Fail): string | undefined {
  if (isNullish(n)) return undefined;
  if (isScalar(n)) {
    const v = String(n.value);
    if (v === '') fail(n, path, 'must not be empty');
    return v === '' ? undefined : v;
  }
  fail(n as Node, path, 'expected a string');
  return undefined;
}

function strList(n: unknown, path: string, fail: Fail): string[] | undefined {
  if (isNullish(n)) return [];
  if (!isSeq(n)) {
    fail(n as Node, path, 'expected a list of strings');
    return undefined;
  }
  const out: string[] = [];
  n.items.forEach((x, j) => {
    if (!isScalar(x) || isNullish(x)) return fail(x as Node, `${path}[${j}]`, 'expected a non-empty string');
    const v = str(x, `${path}[${j}]`, fail);
    if (v !== undefined) out.push(v);
  });
  return out;
}

function parseUser(
  item: YAMLMap,
  at: string,
  fail: Fail,
  opts: { plaintextAllowed: boolean },
): Omit<UsersFileEntry, 'line'> | undefined {
  const fields = new Map<string, unknown>();
  for (const pair of item.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!USER_KEYS.has(key))
      fail(
        pair.key as Node,
        `${at}.${key}`,
        'unknown key (expected username, password, namespace, namespaces, labels)',
      );
    else fields.set(key, pair.value);
  }
  const username = str(fields.get('username'), `${at}.username`, fail);
  const passwordText = str(fields.get('password'), `${at}.password`, fail);
  if (username === undefined) fail(item, `${at}.username`, 'missing');
  else if (username.includes(':'))
    fail(fields.get('username') as Node, `${at}.username`, 'must not contain ":" (Basic auth cannot carry it)');
  if (passwordText === undefined) fail(item, `${at}.password`, 'missing');
  let password: StoredPassword | undefined;
  if (passwordText !== undefined) {
    const c = classifyPassword(passwordText, { plaintextAllowed: opts.plaintextAllowed });
    if (c.ok) password = c.stored;
    else fail(fields.get('password') as Node, `${at}.password`, c.problem);
  }
  const one = str(fields.get('namespace'), `${at}.namespace`, fail);
  const many = strList(fields.get('namespaces'), `${at}.namespaces`, fail) ?? [];
  const namespaces = [...new Set(one === undefined ? many : [one, ...many])];

  const labels: Record<string, string | string[]> = {};
  const labelsNode = fields.get('labels');
  if (!isNullish(labelsNode)) {
    if (!isMap(labelsNode))
      fail(labelsNode as Node, `${at}.labels`, 'expected a map of label: value or label: [values]');
    else {
      for (const pair of labelsNode.items) {
        const name = isScalar(pair.key) ? String(pair.key.value) : '';
        const path = `${at}.labels.${name}`;
        if (!LABEL_NAME_RE.test(name)) fail(pair.key as Node, path, 'not a valid Prometheus label name');
        else if (isSeq(pair.value)) {
          const vs = strList(pair.value, path, fail);
          if (vs) labels[name] = [...new Set(vs)];
        } else if (isScalar(pair.value) && !isNullish(pair.value)) {
          const v = str(pair.value, path, fail);
          if (v !== undefined) labels[name] = v;
        } else fail((pair.value ?? pair.key) as Node, path, 'expected a string or a list of strings');
      }
    }
  }
  if (username === undefined || password === undefined) return undefined;
  return { username, password, namespaces, labels };
}
