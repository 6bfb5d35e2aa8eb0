'use strict';
// The hand-written entry of pm-native: the generated napi loader (binding.js) plus what only
// JS can do. `require('pm-native')` is also a drop-in for `require('pm2')`: the pm2 API's
// methods sit at the top level, bound to a default client, with the class as `custom`.

const path = require('path');
const binding = require('./binding.js');
const { fork, SupervisedChild } = require('./lib/fork.js');
const { Pool } = require('./lib/pool.js');
const { PM2 } = require('./lib/pm2.js');
const { Bus } = require('./lib/bus.js');

/** Absolute path of the native `pm` binary (the CLI and the daemon). */
const binPath = path.join(__dirname, 'bin', 'pm');

const api = new PM2();
const pm2Methods = {};
for (const name of Object.getOwnPropertyNames(PM2.prototype)) {
  if (name !== 'constructor' && !name.startsWith('_')) pm2Methods[name] = api[name].bind(api);
}

module.exports = {
  ...pm2Methods,
  version: binding.version,
  protocolVersion: binding.protocolVersion,
  binPath,
  fork,
  SupervisedChild,
  Pool,
  PM2,
  Bus,
  /** pm2's name for the API class: `new (require('pm2').custom)({ pm2_home })`. */
  custom: PM2,
};
