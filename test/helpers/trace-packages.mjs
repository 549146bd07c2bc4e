// Preloaded with --import: prints "PKG <pid> <name>" on stderr the first time a process resolves a module of each npm
// package (the pid tells promgate from the child that loads its config).
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const seen = new Set();
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(r.url);
  if (m && !seen.has(m[1])) {
    seen.add(m[1]);
    process.stderr.write('PKG ' + process.pid + ' ' + m[1] + '\\n');
  }
  return r;
}
`),
);
