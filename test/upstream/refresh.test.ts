// The credential refresher with an injected clock: refresh ahead of expiry, one fetch for concurrent callers, last good kept, bounded waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRefresher,
  CredentialUnavailable,
  type Clock,
  type Fetched,
} from '../../src/upstream/signers/refresh.js';

/** A clock whose time moves only when the test says so; timers fire when it is advanced past them. */
function fakeClock(start = 1_000_000): Clock & { advance(ms: number): void; pending(): number } {
  let now = start;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    later(ms, fn) {
      const t = { at: now + ms, fn };
      timers.push(t);
      return () => {
        timers = timers.filter((x) => x !== t);
      };
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
    },
    pending: () => timers.length,
  };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}
const settle = () => new Promise<void>((r) => setImmediate(r));

test('concurrent callers share one fetch; the credential is reused until it is due', async () => {
  const clock = fakeClock();
  const calls: Deferred<Fetched<string>>[] = [];
  const r = createRefresher<string>({
    clock,
    timeoutMs: 10_000,
    fetch: () => {
      const d = deferred<Fetched<string>>();
      calls.push(d);
      return d.promise;
    },
  });
  const waiting = [r.get(), r.get(), r.get()];
  await settle();
  assert.equal(calls.length, 1, 'three callers, one fetch');
  calls[0]!.resolve({ value: 'A', expiresAt: clock.now() + 3_600_000 });
  assert.deepEqual(await Promise.all(waiting), ['A', 'A', 'A']);
  clock.advance(60_000);
  assert.equal(r.get(), 'A', 'a cached credential is returned synchronously');
  assert.equal(calls.length, 1);
  r.close();
});

test('refreshed 5 minutes ahead of a 1 h expiry, in the background; the old one serves meanwhile and a failed refresh keeps it', async () => {
  const clock = fakeClock();
  const calls: { again: boolean; d: Deferred<Fetched<string>> }[] = [];
  const errors: string[] = [];
  const r = createRefresher<string>({
    clock,
    timeoutMs: 10_000,
    onError: (e) => errors.push(e),
    fetch: (again) => {
      const d = deferred<Fetched<string>>();
      calls.push({ again, d });
      return d.promise;
    },
  });
  const first = r.get();
  await settle();
  const exp = clock.now() + 3_600_000;
  calls[0]!.d.resolve({ value: 'A', expiresAt: exp });
  assert.equal(await first, 'A');
  clock.advance(3_600_000 - 300_000 - 1);
  await settle();
  assert.equal(calls.length, 1, 'not yet due');
  clock.advance(1);
  await settle();
  assert.equal(calls.length, 2, 'the timer refreshes exactly 5 minutes before expiry, with no request waiting');
  assert.equal(calls[1]!.again, true, 'later fetches ask the source to skip its own cache');
  assert.equal(r.get(), 'A', 'while the refresh runs, the still-valid credential serves');
  calls[1]!.d.reject(new Error('sts is down'));
  await settle();
  assert.deepEqual(errors, ['sts is down']);
  assert.equal(r.get(), 'A', 'a failed refresh keeps the last good credential while it is valid');
  assert.equal(r.status().ok, true);
  assert.match(r.status().detail, /last refresh failed: sts is down/);
  // The back-off retry fetches again and the new credential replaces the old one.
  clock.advance(1_000);
  await settle();
  assert.equal(calls.length, 3, 'retried after the back-off');
  calls.at(-1)!.d.resolve({ value: 'B', expiresAt: clock.now() + 3_600_000 });
  await settle();
  assert.equal(r.get(), 'B');
  assert.ok(exp > clock.now(), 'B arrived while A was still valid: refreshed before expiry');
  r.close();
});

test('short-lived credentials are refreshed at half their lifetime, not in a loop', async () => {
  const clock = fakeClock();
  let n = 0;
  const r = createRefresher<string>({
    clock,
    timeoutMs: 10_000,
    fetch: async () => ({ value: `T${++n}`, expiresAt: clock.now() + 60_000 }),
  });
  assert.equal(await r.get(), 'T1');
  await settle();
  assert.equal(n, 1, 'a 60 s token is not refreshed at once although it is inside the 5 min margin');
  clock.advance(29_999);
  await settle();
  assert.equal(n, 1);
  clock.advance(1);
  await settle();
  assert.equal(n, 2);
  assert.equal(r.get(), 'T2');
  r.close();
});

test('an expired credential makes callers wait for one new fetch; a failure with nothing usable is CredentialUnavailable and not ready', async () => {
  const clock = fakeClock();
  let fail = false;
  let n = 0;
  const r = createRefresher<string>({
    clock,
    timeoutMs: 10_000,
    fetch: async () => {
      n++;
      if (fail) throw new Error('AADSTS7000215: Invalid client secret provided');
      return { value: `T${n}`, expiresAt: clock.now() + 3_600_000 };
    },
  });
  assert.equal(r.status().ok, false);
  assert.equal(r.status().detail, 'not fetched yet');
  assert.equal(await r.get(), 'T1');
  fail = true;
  r.close(); // no background timers: this test drives every fetch itself
  clock.advance(3_600_000);
  await assert.rejects(
    Promise.resolve(r.get()),
    (e: unknown) => e instanceof CredentialUnavailable && /AADSTS7000215/.test(e.message),
  );
  assert.equal(r.status().ok, false);
  assert.match(r.status().detail, /AADSTS7000215/);
  fail = false;
  assert.equal(await r.get(), `T${n}`);
  assert.equal(r.status().ok, true);
});

test('a fetch that never answers fails after the timeout (a hanging token endpoint cannot hang requests)', async () => {
  const clock = fakeClock();
  const r = createRefresher<string>({
    clock,
    timeoutMs: 5_000,
    fetch: () => new Promise<Fetched<string>>(() => undefined),
  });
  const p = Promise.resolve(r.get());
  await settle();
  clock.advance(5_000);
  await assert.rejects(
    p,
    (e: unknown) => e instanceof CredentialUnavailable && /no answer within 5000 ms/.test(e.message),
  );
  r.close();
});

test('static credentials (no expiry) are fetched once and never refreshed', async () => {
  const clock = fakeClock();
  let n = 0;
  const r = createRefresher<string>({ clock, timeoutMs: 1000, fetch: async () => ({ value: `K${++n}` }) });
  assert.equal(await r.get(), 'K1');
  clock.advance(365 * 86_400_000);
  assert.equal(r.get(), 'K1');
  assert.equal(n, 1);
  assert.equal(clock.pending(), 0, 'no timer is left behind');
  r.close();
});
