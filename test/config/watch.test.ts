// The config file watch sees a Kubernetes ConfigMap update (the ..data symlink swapped), and only real changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfigFile } from '../../src/config/watch.js';
import { dirEvents } from '../helpers/fs-events.js';

/** Lays out a directory the way the kubelet does: promgate.yaml → ..data/promgate.yaml, ..data → ..<timestamp>. */
function configMapDir(): { dir: string; file: string; publish(text: string): void; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'promgate-cm-'));
  let n = 0;
  const publish = (text: string): void => {
    const version = `..2026_12_01_${n++}`;
    mkdirSync(join(dir, version));
    writeFileSync(join(dir, version, 'promgate.yaml'), text);
    // Atomic swap, as the kubelet does: a new symlink renamed over ..data.
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  publish('server: { port: 1 }\n');
  symlinkSync('..data/promgate.yaml', join(dir, 'promgate.yaml'));
  return {
    dir,
    file: join(dir, 'promgate.yaml'),
    publish,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('a ConfigMap update (..data swapped) is reported once; the same content again is not', async (t) => {
  const cm = configMapDir();
  t.after(cm.cleanup);
  let changes = 0;
  // The watcher's 50 ms debounce runs on mocked timers: the test fires it once the swap's events have arrived.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const w = watchConfigFile(cm.file, () => changes++, 50);
  t.after(() => w.close());
  const events = dirEvents(cm.dir);
  t.after(() => events.close());
  cm.publish('server: { port: 2 }\n');
  await events.next('..data');
  t.mock.timers.tick(50);
  assert.equal(changes, 1, 'the swap was seen');
  cm.publish('server: { port: 2 }\n');
  await events.next('..data');
  t.mock.timers.tick(50);
  assert.equal(changes, 1, 'a swap to identical content is not a change');
  // poll() (the reload interval) finds a change the watch did not report, and only once.
  cm.publish('server: { port: 3 }\n');
  w.poll();
  w.poll();
  assert.equal(changes, 2);
});
