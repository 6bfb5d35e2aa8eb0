'use strict';
// Writes LOG_LINES fixed-width lines (80 bytes each: a 9-digit sequence number, a space, padding,
// '\n') to stdout, one write per line, when it receives SIGUSR2; then stays idle so that no
// process manager restarts it and writes the lines twice. READY_DIR/<pid> says it runs;
// READY_DIR/<pid>.done says it has handed every line to stdout.
const fs = require('fs');
const path = require('path');

const LINES = Number(process.env.LOG_LINES) || 1000;
const PAD = 'x'.repeat(80 - 9 - 1 - 1);
const ready = process.env.READY_DIR;

async function writeAll() {
  const out = process.stdout;
  for (let i = 0; i < LINES; i++) {
    // Synchronous for files and pipes on Linux; the drain wait only matters if it is not.
    if (!out.write(`${String(i).padStart(9, '0')} ${PAD}\n`)) await new Promise((r) => out.once('drain', r));
  }
  if (ready) fs.writeFileSync(path.join(ready, `${process.pid}.done`), '');
}

let started = false;
process.on('SIGUSR2', () => {
  if (started) return;
  started = true;
  writeAll();
});
if (ready) fs.writeFileSync(path.join(ready, String(process.pid)), '');
setInterval(() => {}, 1 << 30);
