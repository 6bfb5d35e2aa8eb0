#!/usr/bin/env node
// Source checkout (the `build` step of `npm install`): puts the native `pm` binary cargo just
// built at bin/pm, so the npm bin runs it directly and `pm ls` costs a few milliseconds instead
// of a Node start-up. A registry install gets it from the platform package instead
// (scripts/postinstall.js). bin/pm-runtime and bin/pm-docker are links to it: the binary runs
// container mode when started under either name.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const dest = path.join(root, 'bin', 'pm');
const triple = { 'linux-x64': 'x86_64-unknown-linux-gnu', 'linux-arm64': 'aarch64-unknown-linux-gnu' }[
  `${process.platform}-${process.arch}`
];

function candidates() {
  const out = [path.join(root, 'target', 'release', 'pm')];
  if (triple) out.push(path.join(root, 'target', triple, 'release', 'pm'));
  return out;
}

const found = candidates()
  .filter((p) => fs.existsSync(p))
  .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
if (!found) {
  console.error('pm-native: no native pm binary found; run `npm run build` (needs a Rust toolchain)');
  process.exit(1);
}
fs.mkdirSync(path.dirname(dest), { recursive: true });
const tmp = `${dest}.tmp${process.pid}`;
fs.copyFileSync(found, tmp);
fs.chmodSync(tmp, 0o755);
fs.renameSync(tmp, dest);
for (const name of ['pm-runtime', 'pm-docker']) {
  const link = path.join(root, 'bin', name);
  fs.rmSync(link, { force: true });
  fs.symlinkSync('pm', link);
}
