#!/usr/bin/env node
// Registry install: puts the platform package's native `pm` at bin/pm in place of the JS
// launcher, so the npm bin runs the binary itself and `pm ls` starts no Node (esbuild does the
// same). Any failure keeps the launcher, which works, only slower; the install never fails here.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { binaryPath } = require('./platform.js');

const root = path.join(__dirname, '..');

function main() {
  // A source checkout: `prepare` builds the binary and puts it at bin/pm.
  if (fs.existsSync(path.join(root, 'Cargo.toml'))) return;
  // yarn and pnpm run a bin through a shim that may call `node` on it: keep the JS file there.
  if (!/^npm\//.test(process.env.npm_config_user_agent || '')) return;
  const bin = binaryPath();
  if (!bin) return; // the launcher reports the missing platform package when it runs
  // Only a binary that runs here replaces the launcher.
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10000 });
  if (probe.status !== 0) return;
  const dest = path.join(root, 'bin', 'pm');
  const tmp = `${dest}.tmp${process.pid}`;
  try {
    try {
      fs.linkSync(bin, tmp);
    } catch {
      fs.copyFileSync(bin, tmp);
    }
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, dest);
  } catch {
    fs.rmSync(tmp, { force: true });
    return;
  }
  // The same binary under pm2-runtime's names: it runs container mode when started as either,
  // with no Node process in front of it (which would be the container's PID 1).
  for (const name of ['pm-runtime', 'pm-docker']) {
    const other = path.join(root, 'bin', name);
    const t = `${other}.tmp${process.pid}`;
    try {
      try {
        fs.linkSync(dest, t);
      } catch {
        fs.copyFileSync(dest, t);
      }
      fs.renameSync(t, other);
    } catch {
      fs.rmSync(t, { force: true });
    }
  }
}

main();
