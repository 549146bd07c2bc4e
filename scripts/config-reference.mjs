// Writes docs/config-reference.md from the config's JSON Schema (`promgate schema`), so the reference cannot drift.
// Usage: node scripts/config-reference.mjs [--check] [--source]  (--source: the CLI from src/ through tsx, no build needed)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const cli = process.argv.includes('--source')
  ? ['--import', 'tsx', `${root}src/cli/main.ts`]
  : [`${root}dist/cli/main.js`];
const schema = JSON.parse(execFileSync(process.execPath, [...cli, 'schema'], { encoding: 'utf8', cwd: root }));
const rows = [];

function typeOf(s) {
  if (!s) return '';
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf || s.oneOf) return [...new Set((s.anyOf ?? s.oneOf).map(typeOf))].join(' \\| ');
  if (s.type === 'array') return `list of ${typeOf(s.items)}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object')
    return `map of ${typeOf(s.additionalProperties)}`;
  return s.type ?? 'any';
}

function walk(s, path) {
  if (!s) return;
  if (s.anyOf && s.anyOf.some((o) => o.properties)) {
    for (const o of s.anyOf) walk(o, path);
    return;
  }
  if (s.type === 'object' && s.properties) {
    for (const [k, v] of Object.entries(s.properties)) {
      const p = path ? `${path}.${k}` : k;
      const objectLike = v.type === 'object' && v.properties;
      const arrayOfObjects = v.type === 'array' && v.items?.type === 'object' && v.items.properties;
      const union = v.anyOf && v.anyOf.some((o) => o.properties);
      const mapOfObjects =
        v.type === 'object' &&
        !v.properties &&
        v.additionalProperties?.type === 'object' &&
        v.additionalProperties.properties;
      if (mapOfObjects) {
        rows.push(`| \`${p}\` | map | | ${v.description ?? ''} |`);
        walk(v.additionalProperties, `${p}.<name>`);
        continue;
      }
      if (!objectLike && !arrayOfObjects && !union) {
        const def = v.default === undefined ? '' : `\`${JSON.stringify(v.default)}\``;
        rows.push(`| \`${p}\` | ${typeOf(v)} | ${def} | ${(v.description ?? '').replace(/\|/g, '\\|')} |`);
      } else {
        if (v.description) rows.push(`| \`${p}\` | ${arrayOfObjects ? 'list' : 'section'} | | ${v.description} |`);
        walk(arrayOfObjects ? v.items : v, arrayOfObjects ? `${p}[]` : p);
      }
    }
  }
}
walk(schema, '');
const text =
  `# Configuration reference\n\nGenerated from the config schema by \`node scripts/config-reference.mjs\`; do not edit by hand.\n` +
  `Durations accept Go-style strings (\`500ms\`, \`30s\`, \`5m\`, \`168h\`) or milliseconds; sizes accept bytes or \`64KiB\`, \`10MiB\`.\n` +
  `Every key can also be set from the environment: \`PROMGATE_\` + the path in upper snake case with \`__\` between levels ` +
  `(\`server.metricsPort\` → \`PROMGATE_SERVER__METRICS_PORT\`, \`routes[0].upstream.url\` → \`PROMGATE_ROUTES__0__UPSTREAM__URL\`).\n` +
  `Secrets may come from files: \`clientSecretFile\`, \`passwordFile\`, \`tokenFile\`, \`secretFile\`.\n\n` +
  `| key | type | default | description |\n|---|---|---|---|\n${rows.join('\n')}\n`;
const out = `${root}docs/config-reference.md`;
if (process.argv.includes('--check')) {
  const cur = readFileSync(out, 'utf8');
  if (cur !== text) {
    console.error('docs/config-reference.md is out of date: run node scripts/config-reference.mjs');
    process.exit(1);
  }
} else writeFileSync(out, text);
