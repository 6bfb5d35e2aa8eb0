'use strict';
// The hand-written entry of pm-native: the generated napi loader (binding.js) plus what only
// JS can do. `require('pm-native')` is also a drop-in for `require('pm2')`: the pm2 API's
// methods sit at the top level, bound to a default client, with the class as `custom`.

const path = require('path');
const binding = loadBinding();
const { fork, SupervisedChild } = require('./lib/fork.js');
const { Pool } = require('./lib/pool.js');
const { PM2 } = require('./lib/pm2.js');
const { Bus } = require('./lib/bus.js');
const { queue, Queue } = require('./lib/queue.js');

/**
 * The generated loader, with one line naming the platform package when no addon fits (the
 * loader's own message lists every path it tried).
 */
function loadBinding() {
  try {
    return require('./binding.js');
  } catch (e) {
    if (!String(e && e.message).startsWith('Cannot find native binding')) throw e;
    const { packageName, platformKey } = require('./scripts/platform.js');
    const err = new Error(
      `pm-native: no prebuilt addon for ${platformKey()} (install ${packageName()} or build from source with a Rust toolchain)`,
    );
    err.code = 'ERR_PM_NATIVE_NO_BINDING';
    err.cause = e;
    throw err;
  }
}

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
  queue,
  Queue,
  /** pm2's name for the API class: `new (require('pm2').custom)({ pm2_home })`. */
  custom: PM2,
};
