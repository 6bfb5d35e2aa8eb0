#!/usr/bin/env node
// bin/pm of the published package (scripts/pack.js puts it there). It only runs where the
// postinstall step could not put the native binary in its place (`--ignore-scripts`, yarn,
// pnpm): it finds the platform package's `pm` and runs it, at the cost of a Node start-up.
'use strict';
const { spawnSync } = require('child_process');
const { binaryPath, missingMessage } = require('../scripts/platform.js');

const bin = binaryPath();
if (!bin) {
  console.error(missingMessage());
  process.exit(1);
}
const path = require('path');
if (/^pm-(runtime|docker)$/.test(path.basename(process.argv[1]))) {
  // Container mode under a launcher: Node is in front of the runtime, so it passes the stop
  // signals on and exits as the runtime does (the postinstall's native bin avoids this hop).
  const { spawn } = require('child_process');
  const child = spawn(bin, ['runtime', ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
    process.on(sig, () => child.kill(sig));
  }
  child.on('error', (e) => {
    console.error(`pm-native: cannot run ${bin}: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code === null ? 128 + require('os').constants.signals[signal] : code));
  return;
}
const r = spawnSync(bin, process.argv.slice(2), { stdio: 'inherit' });
if (r.error) {
  console.error(`pm-native: cannot run ${bin}: ${r.error.message}`);
  process.exit(1);
}
if (r.signal) process.kill(process.pid, r.signal);
process.exit(r.status === null ? 1 : r.status);
