// Reads `…File` secret keys (clientSecretFile, passwordFile, …) into their plain keys, so Kubernetes Secrets mount naturally.
import { readFileSync } from 'node:fs';

/** Keys whose value may instead come from a file named by `<key>File`. */
const SECRET_KEYS = new Set(['clientSecret', 'password', 'token', 'secret', 'secretAccessKey', 'redisPassword']);

export interface SecretProblem {
  path: (string | number)[];
  message: string;
}

export function resolveSecretFiles(
  node: unknown,
  path: (string | number)[] = [],
  out: SecretProblem[] = [],
): SecretProblem[] {
  if (Array.isArray(node)) node.forEach((v, i) => resolveSecretFiles(v, [...path, i], out));
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      const base = k.endsWith('File') ? k.slice(0, -4) : undefined;
      if (base && SECRET_KEYS.has(base) && typeof v === 'string') {
        if (obj[base] !== undefined) {
          out.push({ path: [...path, k], message: `set either ${base} or ${k}, not both` });
          continue;
        }
        try {
          const text = readFileSync(v, 'utf8').replace(/\r?\n$/, '');
          // The `secret` key holds a list (cookie secrets may rotate): one secret per line.
          obj[base] = base === 'secret' ? text.split(/\r?\n/).filter((s) => s !== '') : text;
        } catch (e) {
          out.push({
            path: [...path, k],
            message: `cannot read secret file "${v}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          });
        }
      } else if (v && typeof v === 'object') resolveSecretFiles(v, [...path, k], out);
    }
  }
  return out;
}
