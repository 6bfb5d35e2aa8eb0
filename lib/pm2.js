'use strict';
// pm2's programmatic API (`require('pm2')`) over the pm-native daemon: the same method names
// and callback signatures, each also returning a promise when no callback is given. Requests
// go through the addon (src/binding/daemon.rs), which starts the daemon when none runs.

const fs = require('node:fs');
const path = require('node:path');
const native = require('../binding.js');
const { Bus } = require('./bus.js');

const binPath = path.join(__dirname, '..', 'bin', 'pm');

/** Calls back outside the promise chain, so a throw in `cb` is an ordinary uncaught exception. */
function settle(promise, cb) {
  if (typeof cb !== 'function') return promise;
  promise.then(
    (v) => process.nextTick(cb, null, v),
    (e) => process.nextTick(cb, e),
  );
  return undefined;
}

/** The caller's environment, which apps get on start and with `updateEnv` (pm2 semantics). */
function callerEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

/** A pm2 target (id, name, 'all', namespace, array of them) as the daemon's target list. */
function targets(t) {
  if (Array.isArray(t)) return t.map(String);
  if (t === undefined || t === null) throw new Error('No process specified');
  return [String(t)];
}

// Options that steer the API call itself and are not part of an app.
const API_OPTIONS = ['force', 'only', 'rawArgs', 'updateEnv', 'update_env', 'parent', 'commands', 'options'];

class PM2 {
  /** `new PM2({ pm2_home })` (pm2's `custom`), or no options for PM_HOME / PM2_HOME / ~/.pm. */
  constructor(opts = {}) {
    this._home = opts.pm2_home || opts.home || null;
    this._buses = new Set();
  }

  async _req(request) {
    const res = JSON.parse(await native.daemonRequest(this._home, binPath, JSON.stringify(request)));
    if (res.kind === 'error') throw new Error(res.message);
    return res;
  }

  async _procs(request) {
    return (await this._req(request)).procs || [];
  }

  /** Starts the daemon if needed. cb(err, { new_pm2_instance }). */
  connect(noDaemon, cb) {
    if (typeof noDaemon === 'function') cb = noDaemon;
    const p = native.ensureDaemon(this._home, binPath).then((started) => ({ new_pm2_instance: started }));
    return settle(p, cb);
  }

  /** Closes this client's buses so the program can exit; the daemon keeps running. */
  disconnect(cb) {
    for (const bus of this._buses) bus.close();
    this._buses.clear();
    return settle(Promise.resolve({}), cb);
  }

  close(cb) {
    return this.disconnect(cb);
  }

  /** An app object, `{ apps: [...] }`, an ecosystem file, or a script with options. */
  start(cmd, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, {}];
    return settle(this._start(cmd, opts || {}), cb);
  }

  async _start(cmd, opts) {
    const cwd = opts.cwd ? path.resolve(opts.cwd) : process.cwd();
    const envName = typeof opts.env === 'string' ? opts.env : undefined;
    let apps;
    let fromConfig = true;
    if (cmd !== null && typeof cmd === 'object') {
      apps = JSON.parse(native.appsFromJson(JSON.stringify(cmd), cwd, envName));
    } else if (typeof cmd === 'string' && native.isConfigFile(cmd)) {
      const only = opts.only ? String(opts.only).split(/[, ]/).filter(Boolean) : undefined;
      apps = JSON.parse(await native.appsFromFile(path.resolve(cwd, cmd), envName, only));
    } else if (typeof cmd === 'string') {
      fromConfig = false;
      // pm2: `start web` restarts the app called web when no such file exists.
      if (!fs.existsSync(path.resolve(cwd, cmd)) && !cmd.includes('/') && !path.extname(cmd)) {
        const running = await this._procs({ verb: 'list' });
        if (running.some((p) => p.name === cmd || String(p.pm_id) === cmd || p.pm2_env.namespace === cmd)) {
          return this._procs({ verb: 'restart', targets: [cmd], update_env: opts.updateEnv ? callerEnv() : null });
        }
      }
      const app = { ...opts, script: cmd };
      for (const k of API_OPTIONS) delete app[k];
      if (envName !== undefined) delete app.env;
      apps = JSON.parse(native.appsFromJson(JSON.stringify(app), cwd, null));
    } else {
      throw new TypeError('start() takes a script path, an ecosystem file or an app object');
    }
    const env = callerEnv();
    const procs = [];
    let toStart = apps;
    if (fromConfig) {
      // As pm2 (and `pm start <file>`): apps that already run are restarted with the new env.
      const names = new Set((await this._procs({ verb: 'list' })).map((p) => p.name));
      toStart = [];
      for (const app of apps) {
        const name = app.name || path.basename(app.script).replace(/\.[^.]*$/, '');
        if (!names.has(name)) toStart.push(app);
        else procs.push(...(await this._procs({ verb: 'restart', targets: [name], update_env: env, app_env: app.env })));
      }
    }
    if (toStart.length > 0) {
      procs.push(...(await this._procs({ verb: 'start', apps: toStart, env, force: !!opts.force })));
    }
    return procs;
  }

  /** Targets from a name/id/'all'/namespace, or the app names of an ecosystem file. */
  async _targets(t) {
    if (typeof t === 'string' && native.isConfigFile(t)) {
      const apps = JSON.parse(await native.appsFromFile(path.resolve(t), null, null));
      return apps.map((a) => a.name || path.basename(a.script).replace(/\.[^.]*$/, ''));
    }
    return targets(t);
  }

  stop(name, cb) {
    return settle(this._targets(name).then((t) => this._procs({ verb: 'stop', targets: t })), cb);
  }

  restart(name, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, {}];
    const updateEnv = opts && opts.updateEnv ? callerEnv() : null;
    const p = this._targets(name).then((t) => this._procs({ verb: 'restart', targets: t, update_env: updateEnv }));
    return settle(p, cb);
  }

  /** pm2's reload: the replacement starts before the old instance stops. */
  reload(name, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, {}];
    const updateEnv = opts && opts.updateEnv ? callerEnv() : null;
    const p = this._targets(name).then((t) =>
      this._procs({ verb: 'restart', targets: t, update_env: updateEnv, graceful: true }),
    );
    return settle(p, cb);
  }

  delete(name, jsonVia, cb) {
    if (typeof jsonVia === 'function') cb = jsonVia;
    return settle(this._targets(name).then((t) => this._procs({ verb: 'delete', targets: t })), cb);
  }

  /** Resets restart counters. */
  reset(name, cb) {
    return settle(this._targets(name).then((t) => this._procs({ verb: 'reset', targets: t })), cb);
  }

  /** Every process, in pm2's jlist shape. */
  list(opts, cb) {
    if (typeof opts === 'function') cb = opts;
    return settle(this._procs({ verb: 'list' }), cb);
  }

  /** The processes with this id or name (an empty array when none). */
  describe(id, cb) {
    const p = this._procs({ verb: 'list' }).then((list) =>
      list.filter((p) => (!Number.isNaN(Number(id)) && p.pm_id === Number(id)) || (typeof id === 'string' && p.name === id)),
    );
    return settle(p, cb);
  }

  /** Empties the log files of one app (id or name), or of all and the daemon's log. */
  flush(api, cb) {
    if (typeof api === 'function') [cb, api] = [api, undefined];
    const t = api === undefined || api === null ? [] : [String(api)];
    return settle(this._procs({ verb: 'flush', targets: t }), cb);
  }

  /** Reopens every log file (after logrotate moved them). */
  reloadLogs(cb) {
    return settle(this._req({ verb: 'reload_logs' }).then(() => ({})), cb);
  }

  sendSignalToProcessName(signal, name, cb) {
    return settle(this._procs({ verb: 'send_signal', signal: String(signal), targets: [String(name)] }), cb);
  }

  sendSignalToProcessId(signal, id, cb) {
    return settle(this._procs({ verb: 'send_signal', signal: String(signal), targets: [String(id)] }), cb);
  }

  /** Sends `packet` (`{ type, data, topic }`) to the app's process.on('message'). */
  sendDataToProcessId(id, packet, cb) {
    if (typeof id === 'object' && id !== null && (packet === undefined || typeof packet === 'function')) {
      [cb, packet] = [packet, id];
    }
    else if (packet && typeof packet === 'object') packet.id = id;
    const p = (async () => {
      if (!packet || packet.id === undefined || packet.data === undefined || !packet.topic) {
        throw new Error('ID, DATA or TOPIC field is missing');
      }
      const pmId = Number(packet.id);
      if (!Number.isInteger(pmId) || pmId < 0) throw new Error(`Process with ID <${packet.id}> unknown.`);
      await this._req({ verb: 'send_data', id: pmId, data: packet });
      return { success: true, data: packet };
    })();
    return settle(p, cb);
  }

  /** Streams process:event, log:out, log:err and process:msg. cb(err, bus). */
  launchBus(cb) {
    const bus = new Bus();
    const p = new Promise((resolve, reject) => {
      let subscribed = false;
      bus._subscription = native.subscribeBus(this._home, binPath, (frame) => {
        const f = JSON.parse(frame);
        if (f.kind === 'event') return bus._dispatch(f.channel, f.data);
        if (subscribed) return undefined;
        subscribed = true;
        if (f.kind === 'done') return resolve(bus);
        bus.close();
        return reject(new Error(f.message || 'cannot subscribe to the event bus'));
      });
    });
    this._buses.add(bus);
    return settle(p, cb);
  }

  /** Stops every app and the daemon. */
  killDaemon(cb) {
    const p = this._req({ verb: 'kill' }).then(() => {
      this.disconnect();
      return {};
    });
    return settle(p, cb);
  }

  kill(cb) {
    return this.killDaemon(cb);
  }

  /**
   * Saves the process list to $PM_HOME/dump.pm2 (pm2 save). The daemon writes it, atomically and
   * in the one format `pm resurrect` reads, whether the CLI or this API asked.
   */
  dump(force, cb) {
    if (typeof force === 'function') [cb, force] = [force, false];
    const p = this._procs({ verb: 'dump' }).then((saved) => {
      if (saved.length === 0 && !force && !process.env.FORCE) {
        throw new Error('Process list empty, cannot save empty list');
      }
      return { success: true };
    });
    return settle(p, cb);
  }
}

module.exports = { PM2 };
