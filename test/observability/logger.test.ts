// The access log's fast writer prints exactly the line pino itself would print for the same fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOGGER = fileURLToPath(new URL('../../src/observability/logger.ts', import.meta.url));

test('infoWriter writes byte for byte what logger.info writes (time aside)', () => {
  // In a child process: createLogger writes to fd 1, which the test reads.
  const script = `
    import { createLogger, flushLogger, infoWriter } from ${JSON.stringify(LOGGER)};
    const fields = { reqId: 'a-1', method: 'GET', path: '/api/v1/query', status: 200, durationMs: 1.25, user: 'al"ice', tenant: '{namespace="a"}', unrestricted: true, route: 'r', query: 'up{x="\\u00fc"}' };
    const logger = createLogger('info');
    logger.info(fields, 'request');
    infoWriter(logger)(JSON.stringify(fields).slice(1, -1), 'request');
    infoWriter(logger)('', 'bare');
    logger.info({}, 'bare');
    createLogger('warn') && infoWriter(createLogger('warn'))('"x":1', 'hidden');
    flushLogger(logger);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.replace(/"time":"[^"]+"/, '"time":"T"'));
  assert.equal(lines.length, 4, 'a disabled level writes nothing');
  assert.equal(lines[1], lines[0]);
  assert.equal(lines[2], lines[3]);
  assert.match(
    r.stdout.split('\n')[1]!,
    /^\{"level":"info","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","svc":"promgate","reqId":"a-1"/,
  );
});

test('the logger redacts secret-named fields at the top and one level down (defence in depth)', () => {
  const script = `
    import { createLogger, flushLogger } from ${JSON.stringify(LOGGER)};
    const logger = createLogger('info');
    logger.info({ password: 'S-1', clientSecret: 'S-2', cfg: { secret: 'S-3', token: 'S-4' }, headers: { authorization: 'S-5', cookie: 'S-6', 'set-cookie': 'S-7' }, tokens: { idToken: 'S-8', accessToken: 'S-9', refreshToken: 'S-10' }, creds: { secretAccessKey: 'S-11', sessionToken: 'S-12' }, user: 'kept' }, 'x');
    flushLogger(logger);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /S-\d/);
  assert.match(r.stdout, /"user":"kept"/);
  assert.equal(r.stdout.match(/\[redacted\]/g)?.length, 12);
});
