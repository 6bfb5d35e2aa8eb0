'use strict';
// The hand-written entry of pm-native: the generated napi loader (binding.js) plus what only
// JS can do. The library layer (fork, pools, the pm2 programmatic API) grows here.
const path = require('path');
const binding = require('./binding.js');

/** Absolute path of the native `pm` binary (the CLI and the daemon). */
const binPath = path.join(__dirname, 'bin', 'pm');

module.exports = {
  ...binding,
  binPath,
};
