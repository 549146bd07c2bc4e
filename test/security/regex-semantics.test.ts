// Prevents promgate and the Go backends from reading one regex two ways: a differential table against the real Prometheus 2 and Go's regexp as Prometheus 3 and Alertmanager compile it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTenantRegex } from '../../src/config/schema-common.js';
import { filterAlerts } from '../../src/enforce/filters/index.js';
import { goRegexError, wholeMatchAnyMode, wholeMatcher, type DotMode } from '../../src/lib/re2.js';
import { constraintTest, type RestrictedTenant } from '../../src/tenancy/tenant.js';
import {
  makeTempDir,
  REPO_ROOT,
  startExposition,
  startPrometheus,
  waitFor,
  type ExpositionServer,
  type PrometheusInstance,
  type Sample,
} from '../e2e/harness/index.js';
import { startsServer } from '../helpers/unit-run.js';

/**
 * Label values. "" stands for the series without the label (Prometheus reads a missing label as "").
 * Newlines, the no-break space and other Unicode spaces, "]" and "-", letters outside ASCII (one astral),
 * case pairs and the characters Go's simple case folding joins to ASCII (K Kelvin sign, ſ long s).
 */
const VALUES = [
  '',
  'team-a',
  'team-b',
  'team-x\nkube-system',
  'team-a\n',
  '\n',
  'a\nb',
  'a\rb',
  'team-a\u00a0',
  'team-a ',
  'team-a\t',
  'team-a\v',
  'team-a\u2028',
  'team-a\u3000',
  ']',
  ']]a',
  'x]',
  '[',
  '-',
  'a-b',
  'team]a',
  'team[a]',
  'team-[a]',
  'é',
  'É',
  'Ω',
  'ω',
  '𝐀',
  'TEAM-A',
  'Team-A',
  'K',
  '\u212a',
  'k',
  'ſ',
  's',
  'S',
  'abc',
  'a',
  'ab',
  'aaa',
  'a{,3}',
  'a_b',
  '7',
  '٣',
  '.*',
  'x y',
  '\ufffd',
  'a=b',
];

/**
 * Patterns, grouped by the way JavaScript and Go disagree on them, with controls they read alike.
 * Every one is asked of Prometheus and of promgate.
 */
const PATTERNS = [
  // Controls: JS and Go read these alike.
  'team-a',
  'team-(a|b)',
  'TEAM-A',
  // `.+` differs only on newlines (JS's s flag matched them).
  'team-.+',
  // Classes: Go's `[]…]` and `[^]…]` hold "]"; JS reads `[]` as empty and `[^]` as any character.
  '[][a-z]*',
  '[]a]',
  '[^]a]',
  '[^]',
  '[]',
  'team[][-]a',
  'x[]]',
  'team[]]a',
  '[^a]*',
  // \s is ASCII whitespace in Go ([\t\n\f\r ]), Unicode whitespace in JS.
  'team-a\\s*',
  'team-a\\s',
  'team-a[[:space:]]',
  'team-a\\pZ',
  'team-a\\S*',
  'x\\sy',
  // `.` and newlines: not matched by Prometheus 2 and Alertmanager, matched by Prometheus 3.
  'team-.*',
  '.*',
  '.+',
  '.',
  'team-x.kube-system',
  '(?s)team-.*',
  '(?-s:.)*',
  'a.b',
  '(?s:.)+',
  '\\C',
  // Case: (?i) with Go's simple folding.
  '(?i)TEAM-A',
  '(?i)k',
  '(?i)s',
  '(?i:T)eam-a',
  '(?i)Ω',
  '(?i)é',
  // POSIX and Unicode classes.
  '[[:alpha:]]+',
  '[[:^alpha:]]+',
  '[[:upper:]]',
  '[[:word:]]+',
  '[[:punct:]]',
  '\\pL',
  '\\pL+',
  '\\p{Greek}',
  '\\PL',
  '\\p{Lu}',
  '\\p{^Lu}',
  '\\w+',
  '\\d',
  '[\\d\\pL]+',
  '\\pN',
  // Escapes Go accepts that JS (with u) refuses or reads otherwise.
  '\\-',
  'a\\-b',
  'team\\-a',
  '\\Q.*\\E',
  '\\Q]\\E',
  '\\x{212a}',
  '\\x{a0}',
  'team-a\\x{A0}',
  'team-a\\z',
  '\\_',
  'a{,3}',
  'a\\=b',
  '\\v',
  'team-a\\v',
  // JS-only syntax Go refuses.
  '(?=team)team-a',
  '(team)-\\1',
  '(?<=a)b',
  '(?!x)a',
  'a++',
  'a*?+',
  '\\u0041',
  '\\cA',
  '\\Z',
  'a{1001}',
  '\\e',
  '[a-\\d]',
  '(?#c)a',
  // Accepted by Alertmanager's `^(?:` + v + `)$` wrap, but not alone: Prometheus parses the pattern alone.
  'a)|(b',
  'team-a)|(?:x',
  // Patterns that match "" (the guard's question).
  'team-a|',
  '()',
  '\\z',
  'a*',
  'x?',
  '(?:)',
  '^$',
  '\\b',
  '\\B',
  '(?m)^',
  // Named groups: (?P<…>) in every Go version, (?<…>) since Go 1.22.
  '(?P<n>team)-a',
  '(?<n>team)-a',
];

/** Go 1.22 syntax: Prometheus built with an older Go (Debian's 2.42) refuses it; promgate follows current Go. */
const NEWER_GO = new Set(['(?<n>team)-a']);

const LABEL = 'v';
const regexTenant = (pattern: string): RestrictedTenant => ({
  unrestricted: false,
  id: pattern,
  constraints: [{ label: LABEL, kind: 'regex', pattern }],
});
const labelsOf = (i: number): Record<string, string> =>
  VALUES[i] === '' ? { i: String(i) } : { [LABEL]: VALUES[i]!, i: String(i) };

/** The indexes of VALUES that promgate's rules/alerts/targets filter keeps for a tenant `v=~pattern`. */
function filterKeeps(pattern: string, mode: DotMode): number[] {
  const body = {
    status: 'success',
    data: { alerts: VALUES.map((_, i) => ({ labels: labelsOf(i), state: 'firing' })) },
  };
  const out = filterAlerts(body, regexTenant(pattern), mode) as { data: { alerts: { labels: { i: string } }[] } };
  return out.data.alerts.map((a) => Number(a.labels.i));
}

/** What one reading says about a pattern: refused (with Go's error), or the indexes it matches. */
interface Reading {
  error?: string;
  matches: number[];
}

function indexes(flags: readonly boolean[]): number[] {
  return flags.flatMap((f, i) => (f ? [i] : []));
}

describe(
  'against the real Prometheus 2 (Debian 2.42: `.` does not match "\\n")',
  { skip: startsServer('a real Prometheus') },
  () => {
    let expo: ExpositionServer;
    let prom: PrometheusInstance;
    const answers = new Map<string, Reading>();

    before(async () => {
      const extraSamples: Sample[] = VALUES.map((_, i) => ({ name: 'regex_probe', labels: labelsOf(i), value: 1 }));
      expo = await startExposition({ extraSamples });
      prom = await startPrometheus({ expo, waitForData: false });
      await waitFor(
        async () => (await instant(prom, 'count(regex_probe)')).result[0]?.value[1] === String(VALUES.length),
        {
          what: `all ${VALUES.length} regex_probe series scraped`,
          procs: [prom.proc],
        },
      );
      for (const p of PATTERNS) {
        const r = await instant(prom, `regex_probe{${LABEL}=~${JSON.stringify(p)}}`);
        answers.set(
          p,
          r.error !== undefined
            ? { error: r.error, matches: [] }
            : { matches: r.result.map((s) => Number(s.metric.i)).sort((a, b) => a - b) },
        );
      }
    });
    after(async () => {
      await prom?.stop();
      await expo?.stop();
    });

    it('refuses exactly the patterns Prometheus refuses', () => {
      const disagree: string[] = [];
      for (const p of PATTERNS) {
        const prometheusRefuses = answers.get(p)!.error !== undefined;
        const promgateRefuses = goRegexError(p) !== undefined;
        if (NEWER_GO.has(p)) {
          assert.ok(
            prometheusRefuses && !promgateRefuses,
            `${p}: expected only the older Go of Prometheus 2.42 to refuse it`,
          );
        } else if (prometheusRefuses !== promgateRefuses) {
          disagree.push(
            `${p}: Prometheus ${answers.get(p)!.error ?? 'accepts'}, promgate ${goRegexError(p) ?? 'accepts'}`,
          );
        }
      }
      assert.deepEqual(disagree, []);
    });

    it('the filters (rules, alerts, targets, silences) keep exactly the series Prometheus selects, with the plain and the fail-closed reading', () => {
      const disagree: string[] = [];
      for (const p of PATTERNS) {
        const a = answers.get(p)!;
        if (a.error !== undefined) continue;
        const want = JSON.stringify(a.matches);
        for (const mode of ['plain', 'unknown'] as const) {
          const got = JSON.stringify(filterKeeps(p, mode));
          if (got !== want) disagree.push(`${p} (${mode}): Prometheus ${want}, filter ${got}`);
        }
        const test = constraintTest({ label: LABEL, kind: 'regex', pattern: p }, 'plain');
        const got = JSON.stringify(indexes(VALUES.map((v) => test(v === '' ? undefined : v))));
        if (got !== want) disagree.push(`${p} (constraintTest): Prometheus ${want}, promgate ${got}`);
      }
      assert.deepEqual(disagree, []);
    });

    it('the config guard refuses exactly the patterns with which Prometheus selects series lacking the label', () => {
      const disagree: string[] = [];
      for (const p of PATTERNS) {
        const a = answers.get(p)!;
        if (a.error !== undefined || NEWER_GO.has(p)) continue;
        const prometheusEmpty = a.matches.includes(0);
        const guardRefuses = /matches the empty string/.test(checkTenantRegex(p) ?? '');
        if (prometheusEmpty !== guardRefuses)
          disagree.push(
            `${p}: Prometheus selects the unlabelled series: ${prometheusEmpty}; guard refuses: ${guardRefuses}`,
          );
      }
      assert.deepEqual(disagree, []);
    });

    it("the table can fail: JavaScript's reading (the old one) disagrees with Prometheus on the rows this file exists for", () => {
      const jsKeeps = (p: string): number[] | undefined => {
        let re: RegExp;
        try {
          re = new RegExp(`^(?:${p})$`, 'su');
        } catch {
          return undefined;
        }
        return indexes(VALUES.map((v) => re.test(v)));
      };
      const differs = PATTERNS.filter(
        (p) =>
          JSON.stringify(jsKeeps(p)) !==
          JSON.stringify(answers.get(p)!.error !== undefined ? undefined : answers.get(p)!.matches),
      );
      for (const p of [
        '[][a-z]*',
        'team-.*',
        'team-a\\s*',
        '(?i)TEAM-A',
        '[[:alpha:]]+',
        '\\pL',
        '\\-',
        '(?=team)team-a',
        '(team)-\\1',
        'team[][-]a',
      ]) {
        assert.ok(differs.includes(p), `${p}: expected JS to read it differently from Prometheus`);
      }
      for (const p of ['team-a', 'team-(a|b)', 'TEAM-A']) assert.ok(!differs.includes(p), `${p}: a control row`);
    });
  },
);

interface Instant {
  error?: string;
  result: { metric: Record<string, string>; value: [number, string] }[];
}

/** An instant query; a 4xx answer is returned as its error text (a refused regex), not thrown. */
async function instant(p: PrometheusInstance, query: string): Promise<Instant> {
  const res = await fetch(`${p.base}/api/v1/query?${new URLSearchParams({ query })}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Instant['result'] } };
  if (res.status >= 400 && res.status < 500 && body.status === 'error')
    return { error: body.error ?? 'error', result: [] };
  if (!res.ok || body.status !== 'success' || !body.data)
    throw new Error(`${query}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return { result: body.data.result };
}

/** Values Prometheus's text format cannot carry, for the Go oracle only: an unpaired surrogate (Go sees U+FFFD). */
const ORACLE_VALUES = [...VALUES, '\ud800', 'team-\udfff'];

interface GoAnswer {
  prom2: { error: string; matches: boolean[] };
  prom3: { error: string; matches: boolean[] };
  alertmanager: { error: string; matches: boolean[] };
}

describe("against Go's regexp as Prometheus 3, Prometheus 2.53 and Alertmanager compile it (test/security/go-regexp)", () => {
  let answers: Map<string, GoAnswer>;

  before(() => {
    const dir = makeTempDir('go-regexp');
    const bin = dir.file('oracle');
    // The local toolchain and Go's usual build cache (a fresh cache would rebuild the standard library,
    // about a minute on two cores): the oracle uses the standard library only and needs no network.
    const cache = process.env.GOCACHE ?? (process.env.HOME ? undefined : join(tmpdir(), 'promgate-go-build'));
    const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', ...(cache ? { GOCACHE: cache } : {}) };
    const build = spawnSync('go', ['build', '-o', bin, join(REPO_ROOT, 'test/security/go-regexp/main.go')], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(
      build.status,
      0,
      `go build failed (Go is on every machine of this project): ${build.error?.message ?? ''}${build.stderr}`,
    );
    const input = PATTERNS.map((pattern) => JSON.stringify({ pattern, values: ORACLE_VALUES })).join('\n') + '\n';
    const run = spawnSync(bin, [], { input, encoding: 'utf8', timeout: 60_000 });
    dir.remove();
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GoAnswer);
    assert.equal(lines.length, PATTERNS.length);
    answers = new Map(PATTERNS.map((p, i) => [p, lines[i]!]));
  });

  it("promgate refuses what Prometheus refuses, with Go's own message", () => {
    const disagree: string[] = [];
    for (const p of PATTERNS) {
      const go = answers.get(p)!;
      const ours = goRegexError(p) ?? '';
      if (go.prom3.error !== ours || go.prom2.error !== ours)
        disagree.push(`${p}: Go "${go.prom3.error}", promgate "${ours}"`);
    }
    assert.deepEqual(disagree, []);
  });

  it('each dot mode reads every value as its backend does; unknown admits only what both admit', () => {
    const disagree: string[] = [];
    for (const p of PATTERNS) {
      const go = answers.get(p)!;
      if (go.prom3.error !== '') continue;
      const want: Record<DotMode, number[]> = {
        plain: indexes(go.prom2.matches),
        dotall: indexes(go.prom3.matches),
        unknown: indexes(go.prom2.matches.map((m, i) => m && go.prom3.matches[i]!)),
      };
      for (const mode of ['plain', 'dotall', 'unknown'] as const) {
        const test = wholeMatcher(p, mode)!;
        const got = indexes(ORACLE_VALUES.map((v) => test(v)));
        if (JSON.stringify(got) !== JSON.stringify(want[mode]))
          disagree.push(`${p} (${mode}): Go ${JSON.stringify(want[mode])}, promgate ${JSON.stringify(got)}`);
      }
      // The conflict check decides only where Prometheus 2 and 3 agree.
      ORACLE_VALUES.forEach((v, i) => {
        const expected = go.prom2.matches[i] === go.prom3.matches[i] ? go.prom2.matches[i] : undefined;
        if (wholeMatchAnyMode(p, v) !== expected)
          disagree.push(
            `${p} vs ${JSON.stringify(v)}: both-modes answer ${String(wholeMatchAnyMode(p, v))}, expected ${String(expected)}`,
          );
      });
      // Alertmanager reads every pattern promgate accepts as Prometheus 2 does.
      if (JSON.stringify(go.alertmanager.matches) !== JSON.stringify(go.prom2.matches))
        disagree.push(`${p}: Alertmanager and Prometheus 2 differ`);
    }
    assert.deepEqual(disagree, []);
  });

  it("patterns only Alertmanager's wrap accepts are refused: `a)|(b` would be ^(?:a)|(b)$, unanchored", () => {
    const onlyAlertmanager = PATTERNS.filter(
      (p) => answers.get(p)!.alertmanager.error === '' && answers.get(p)!.prom3.error !== '',
    );
    assert.deepEqual(onlyAlertmanager, ['a)|(b', 'team-a)|(?:x']);
    for (const p of onlyAlertmanager) assert.notEqual(goRegexError(p), undefined, p);
  });

  it('the table reaches the dot-mode difference: Prometheus 2 and 3 disagree on the newline rows', () => {
    const nl = ORACLE_VALUES.indexOf('team-x\nkube-system');
    const go = answers.get('team-.*')!;
    assert.equal(go.prom2.matches[nl], false);
    assert.equal(go.prom3.matches[nl], true);
  });
});
