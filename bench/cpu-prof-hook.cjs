// Preloaded into a process under test with NODE_OPTIONS=--require (Node refuses --cpu-prof there): the first SIGUSR2 starts sampling, the second writes a .cpuprofile.
'use strict';
const { Session } = require('node:inspector');
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.BENCH_PROF_DIR || '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_PROF_INTERVAL_US || 200) });
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.start');
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, res) => {
    if (err) return;
    const file = join(dir, `cpu-${process.pid}-${Date.now()}.cpuprofile`);
    writeFileSync(`${file}.tmp`, JSON.stringify(res.profile));
    renameSync(`${file}.tmp`, file); // readers never see half a file
  });
});
