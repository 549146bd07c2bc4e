// Preloaded with --import: prints "PKG <name>" on stderr the first time the process resolves a module of each npm package.
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
    process.stderr.write('PKG ' + m[1] + '\\n');
  }
  return r;
}
`),
);
