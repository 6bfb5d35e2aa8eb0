#!/usr/bin/env node
// Puts the native `pm` binary at bin/pm, so the npm bin runs it directly: `pm ls` costs a few
// milliseconds instead of a Node start-up. A checkout uses the binary cargo just built; a
// registry install uses the one shipped in the platform package (npm/<platform>).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const dest = path.join(root, 'bin', 'pm');
const triple = { 'linux-x64': 'x86_64-unknown-linux-gnu', 'linux-arm64': 'aarch64-unknown-linux-gnu' }[
  `${process.platform}-${process.arch}`
];

function candidates() {
  const out = [
    path.join(root, 'target', 'release', 'pm'),
    triple && path.join(root, 'target', triple, 'release', 'pm'),
  ];
  try {
    out.push(require.resolve(`pm-native-${process.platform}-${process.arch}-gnu/pm`));
  } catch (_) {
    // No platform package: a source checkout.
  }
  return out.filter(Boolean);
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
