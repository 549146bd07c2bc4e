// Every relative link in README.md and docs/*.md resolves: the file (or folder) exists, and a `#anchor` names a
// heading of that file as GitHub slugs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from '../e2e/harness/index.js';

const DOCS = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text outside fenced code blocks, with code spans blanked (a `](` inside backticks is not a link). */
function prose(md: string): string[] {
  let fence = false;
  return md.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      return '';
    }
    return fence ? '' : line.replace(/`[^`]*`/g, 'code');
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered -1, -2, … */
function headingSlugs(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of md.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    const m = fence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function links(file: string): Link[] {
  const out: Link[] = [];
  prose(readFileSync(join(REPO_ROOT, file), 'utf8')).forEach((l, i) => {
    for (const m of l.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      out.push({ file, line: i + 1, target: m[1]! });
  });
  return out;
}

test('the slugger reads headings as GitHub does', () => {
  const s = headingSlugs(
    '# Who is asking\n## Backend credentials (`upstream.auth`)\n### nginx / ingress-nginx\n```\n# not a heading\n```\n## Who is asking\n## Migrating from prometheus-multi-tenant-proxy\n',
  );
  assert.deepEqual(
    [...s],
    [
      'who-is-asking',
      'backend-credentials-upstreamauth',
      'nginx--ingress-nginx',
      'who-is-asking-1',
      'migrating-from-prometheus-multi-tenant-proxy',
    ],
  );
});

test('README.md and docs/*.md: every relative link resolves, anchors included', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of DOCS) {
    for (const { line, target } of links(file)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const path =
        pathPart === '' ? join(REPO_ROOT, file) : join(REPO_ROOT, dirname(file), decodeURIComponent(pathPart));
      const where = `${file}:${line}: ${target}`;
      if (!relative(REPO_ROOT, path) || relative(REPO_ROOT, path).startsWith('..'))
        broken.push(`${where} (outside the repository)`);
      else if (!existsSync(path)) broken.push(`${where} (no such file)`);
      else if (anchor !== undefined) {
        if (statSync(path).isDirectory() || !path.endsWith('.md'))
          broken.push(`${where} (an anchor into a non-markdown file)`);
        else if (!headingSlugs(readFileSync(path, 'utf8')).has(anchor)) broken.push(`${where} (no heading #${anchor})`);
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} links found: is the parser broken?`);
  assert.deepEqual(broken, []);
});

test('the README is the front page: what promgate is, the two commands, and a link to every guide in docs/', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /^npm test$/m);
  const linked = new Set(links('README.md').map((l) => l.target.split('#')[0]));
  for (const f of DOCS.filter((d) => d !== 'README.md')) assert.ok(linked.has(f), `README links ${f}`);
});

test("docs/kubernetes.md carries deploy/kubernetes/promgate.yaml exactly (whose pod the Helm test keeps equal to the chart's)", () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/kubernetes.md'), 'utf8');
  const manifest = readFileSync(join(REPO_ROOT, 'deploy/kubernetes/promgate.yaml'), 'utf8');
  assert.ok(
    doc.includes('```yaml\n' + manifest + '```\n'),
    'the copy in docs/kubernetes.md differs from deploy/kubernetes/promgate.yaml',
  );
  // Nothing in the Kubernetes guide contradicts the chart's pod: its user, image and config path.
  assert.doesNotMatch(doc, /runAsUser: (?!65532\b)\d+/);
  assert.ok(!/image: registry\.example\.com/.test(doc), "manifests use the chart's image");
});
