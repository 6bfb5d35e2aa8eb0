'use strict';
// pm2's programmatic API (`require('pm2')`) over the pm-native daemon: the same method names
// and callback signatures, each also returning a promise when no callback is given. Requests
// go through the addon (src/binding/daemon.rs), which starts the daemon when none runs.

const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
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

let warnedNoDaemon = false;

// Options that steer the API call itself and are not part of an app.
const API_OPTIONS = ['force', 'only', 'rawArgs', 'updateEnv', 'update_env', 'parent', 'commands', 'options'];

class PM2 {
  /** `new PM2({ pm2_home })` (pm2's `custom`), or no options for PM_HOME / PM2_HOME / ~/.pm. */
  constructor(opts = {}) {
    this._home = opts.pm2_home || opts.home || null;
    this._buses = new Set();
  }

  /** One request; a refusal rejects with pm2's message and the daemon's `code` ('not_found', ...). */
  async _req(request) {
    return JSON.parse(await native.daemonRequest(this._home, binPath, JSON.stringify(request)));
  }

  async _procs(request) {
    return (await this._req(request)).procs || [];
  }

  /**
   * Runs the CLI binary with this API's home. For the verbs whose behaviour lives in the CLI
   * (resurrect, startup, update, get/set, cleardump): they read and write files in the home or
   * restart the daemon itself, which no daemon request can do, and one implementation keeps the
   * CLI and the API from drifting apart. Resolves with stdout; a non-zero exit rejects with the
   * CLI's last stderr line (its one-line error), as pm2's `Common.retErr` would.
   */
  _cli(args) {
    const env = { ...process.env };
    if (this._home) env.PM_HOME = this._home;
    return new Promise((resolve, reject) => {
      execFile(binPath, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve(String(stdout));
        const lines = String(stderr).split('\n').map((l) => l.trim()).filter(Boolean);
        const e = new Error(lines.length ? lines[lines.length - 1] : `pm ${args.join(' ')} failed: ${err.message}`);
        e.code = err.code;
        e.stdout = String(stdout);
        e.stderr = String(stderr);
        return reject(e);
      });
    });
  }

  /**
   * Starts the daemon if needed. cb(err, { new_pm2_instance }).
   *
   * pm2's `noDaemon` (`connect(true, cb)`) runs its God inside the calling process. pm-native's
   * daemon is the native binary, which cannot run inside a Node process, so the option cannot be
   * honoured: the daemon starts in the background as without it, and a warning says so once.
   */
  connect(noDaemon, cb) {
    if (typeof noDaemon === 'function') [cb, noDaemon] = [noDaemon, false];
    if (noDaemon === true && !warnedNoDaemon) {
      warnedNoDaemon = true;
      process.emitWarning(
        'connect(noDaemon = true) is not supported by pm-native: the daemon is a native binary and runs in the background as with connect()',
        { code: 'PM_NATIVE_NO_DAEMON' },
      );
    }
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
    let fromFile = true;
    let word = null;
    let buildError = null;
    if (cmd !== null && typeof cmd === 'object') {
      apps = JSON.parse(native.appsFromJson(JSON.stringify(cmd), cwd, envName));
    } else if (typeof cmd === 'string' && native.isConfigFile(cmd)) {
      const only = opts.only ? String(opts.only) : undefined;
      apps = JSON.parse(await native.appsFromFile(path.resolve(cwd, cmd), envName, only));
    } else if (typeof cmd === 'string') {
      fromFile = false;
      // pm2: `start web` may mean the processes called web when no such file exists; which
      // ones, if any, the daemon decides.
      if (!fs.existsSync(path.resolve(cwd, cmd)) && !cmd.includes('/') && !path.extname(cmd)) word = cmd;
      const app = { ...opts, script: cmd };
      for (const k of API_OPTIONS) delete app[k];
      if (envName !== undefined) delete app.env;
      try {
        apps = JSON.parse(native.appsFromJson(JSON.stringify(app), cwd, null));
      } catch (e) {
        if (word === null) throw e;
        [apps, buildError] = [[], e];
      }
    } else {
      throw new TypeError('start() takes a script path, an ecosystem file or an app object');
    }
    // The daemon restarts the apps that already run (as pm2 and `pm start <file>` do) and
    // starts the rest.
    const reports = (
      await this._req({
        verb: 'apply',
        apps,
        env: callerEnv(),
        force: !!opts.force,
        on_existing: 'start',
        from_file: fromFile,
        word,
        update_env: !!opts.updateEnv,
      })
    ).apps || [];
    if (buildError && reports.some((r) => r.outcome === 'skipped')) throw buildError;
    return reports.flatMap((r) => r.procs);
  }

  /** Targets from a name/id/'all'/namespace, or the app names of an ecosystem file. */
  async _targets(t) {
    if (typeof t === 'string' && native.isConfigFile(t)) {
      const apps = JSON.parse(await native.appsFromFile(path.resolve(t), null, null));
      return apps.map((a) => a.name);
    }
    return targets(t);
  }

  stop(name, cb) {
    return settle(this._targets(name).then((t) => this._procs({ verb: 'stop', targets: t, cwd: process.cwd() })), cb);
  }

  restart(name, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, {}];
    const updateEnv = opts && opts.updateEnv ? callerEnv() : null;
    const p = this._targets(name).then((t) => this._procs({ verb: 'restart', targets: t, cwd: process.cwd(), update_env: updateEnv }));
    return settle(p, cb);
  }

  /** pm2's reload: the replacement starts before the old instance stops. */
  reload(name, opts, cb) {
    if (typeof opts === 'function') [cb, opts] = [opts, {}];
    const updateEnv = opts && opts.updateEnv ? callerEnv() : null;
    const p = this._targets(name).then((t) =>
      this._procs({ verb: 'restart', targets: t, cwd: process.cwd(), update_env: updateEnv, graceful: true }),
    );
    return settle(p, cb);
  }

  delete(name, jsonVia, cb) {
    if (typeof jsonVia === 'function') cb = jsonVia;
    return settle(this._targets(name).then((t) => this._procs({ verb: 'delete', targets: t, cwd: process.cwd() })), cb);
  }

  /** Resets restart counters. */
  reset(name, cb) {
    return settle(this._targets(name).then((t) => this._procs({ verb: 'reset', targets: t, cwd: process.cwd() })), cb);
  }

  /** Every process, in pm2's jlist shape. */
  list(opts, cb) {
    if (typeof opts === 'function') cb = opts;
    return settle(this._procs({ verb: 'list' }), cb);
  }

  /** The processes with this id or name (an empty array when none). */
  describe(id, cb) {
    return settle(this._procs({ verb: 'describe', target: String(id) }), cb);
  }

  /** Empties the log files of one app (id or name), or of all and the daemon's log. */
  flush(api, cb) {
    if (typeof api === 'function') [cb, api] = [api, undefined];
    const t = api === undefined || api === null ? [] : [String(api)];
    return settle(this._procs({ verb: 'flush', targets: t, cwd: process.cwd() }), cb);
  }

  /** Reopens every log file (after logrotate moved them). */
  reloadLogs(cb) {
    return settle(this._req({ verb: 'reload_logs' }).then(() => ({})), cb);
  }

  sendSignalToProcessName(signal, name, cb) {
    return settle(this._procs({ verb: 'send_signal', signal: String(signal), targets: [String(name)], cwd: process.cwd() }), cb);
  }

  sendSignalToProcessId(signal, id, cb) {
    return settle(this._procs({ verb: 'send_signal', signal: String(signal), targets: [String(id)], cwd: process.cwd() }), cb);
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

  /** Answers { msg: 'pong' } (pm2's God.ping); starts the daemon when none runs. */
  ping(cb) {
    return settle(this._req({ verb: 'ping' }).then(() => ({ msg: 'pong' })), cb);
  }

  /**
   * `scale(name, 4)`, `scale(name, '+2')`, `scale(name, '-1')`. cb(err, { success: true });
   * pm2's errors: 'App not found', 'Same process number'.
   */
  scale(name, count, cb) {
    const p = (async () => {
      const procs = await this._procs({ verb: 'list' });
      const mine = procs.filter((proc) => proc.name === String(name));
      if (mine.length === 0) throw new Error('App not found');
      const how = String(count);
      if (!/[+-]/.test(how) && parseInt(how, 10) === mine.length) throw new Error('Same process number');
      await this._req({ verb: 'scale', name: String(name), count: how });
      return { success: true };
    })();
    return settle(p, cb);
  }

  /** Writes `line` and `separator` (default '\n') to the app's stdin. cb(err, procs). */
  sendLineToStdin(pmId, line, separator, cb) {
    if (typeof separator === 'function') [cb, separator] = [separator, null];
    // The daemon ends every line with '\n' itself.
    let text = String(line) + (separator || '\n');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const p = this._procs({ verb: 'send_line', target: String(pmId), cwd: process.cwd(), line: text });
    return settle(p, cb);
  }

  /** The pm_ids of the processes with this name or script path. cb(err, ids, details). */
  getProcessIdByName(name, cb) {
    const want = String(name);
    const p = this._procs({ verb: 'list' }).then((procs) => {
      const ids = [];
      const details = {};
      for (const proc of procs) {
        const env = proc.pm2_env || {};
        if (env.name === want || proc.name === want || env.pm_exec_path === path.resolve(want)) {
          ids.push(proc.pm_id);
          details[proc.pm_id] = proc;
        }
      }
      return [ids, details];
    });
    if (typeof cb === 'function') {
      p.then(
        ([ids, details]) => process.nextTick(cb, null, ids, details),
        (e) => process.nextTick(cb, e),
      );
      return undefined;
    }
    return p.then(([ids]) => ids);
  }

  /** The pids of the processes called `name`, or of all when no name is given. cb(err, pids). */
  getPID(name, cb) {
    if (typeof name === 'function') [cb, name] = [name, null];
    const p = this._procs({ verb: 'list' }).then((procs) =>
      procs.filter((proc) => !name || proc.name == name).map((proc) => proc.pid),
    );
    return settle(p, cb);
  }

  /**
   * Calls an action the app registered with `@pm2/io` (`io.action`): by id, or by name,
   * namespace or `all`. cb(err, replies) once every process it reached has answered, each reply
   * being pm2's `axm:reply` packet (`{ process, data: { return, action_name, at } }`).
   */
  trigger(id, action, params, cb) {
    if (typeof params === 'function') [cb, params] = [params, null];
    const p = (async () => {
      const bus = await this.launchBus();
      try {
        const replies = [];
        const early = []; // replies that beat the daemon's answer (the bus was joined first)
        let waiting = null;
        let done;
        const all = new Promise((resolve) => (done = resolve));
        const take = (packet) => {
          if (!waiting.has(packet.process.pm_id)) return;
          waiting.delete(packet.process.pm_id);
          replies.push(packet);
          if (!waiting.size) done();
        };
        bus.on('axm:reply', (packet) => {
          if (packet.data.action_name !== action) return;
          if (waiting) take(packet);
          else early.push(packet);
        });
        const request = { verb: 'trigger', target: String(id), action: String(action) };
        if (params !== null && params !== undefined) request.params = params;
        const procs = await this._procs(request);
        if (!procs.length) throw new Error('Unknown process');
        waiting = new Set(procs.map((proc) => proc.pm_id));
        early.forEach(take);
        if (waiting.size) await all;
        return replies;
      } finally {
        bus.close();
      }
    })();
    return settle(p, cb);
  }

  /**
   * Shows a module_conf.json value (`pm get`). cb(err, { success: true }) as pm2 (which prints
   * the value), plus `output`: what the CLI printed. A key that is not set fails.
   */
  get(key, cb) {
    if (typeof key === 'function') [cb, key] = [key, null];
    const args = key && key !== 'all' ? ['get', String(key)] : ['get'];
    return settle(this._cli(args).then((output) => ({ success: true, output })), cb);
  }

  /** Sets a module_conf.json value (`pm set`); the daemon applies it. cb(err, { success: true }). */
  set(key, value, cb) {
    if (!key) return settle(Promise.reject(new Error('set() needs a key (pm2 edits interactively here)')), cb);
    return settle(this._cli(['set', String(key), String(value)]).then(() => ({ success: true })), cb);
  }

  /** Empties the saved process list (`pm cleardump`). cb(err). */
  clearDump(cb) {
    return settle(this._cli(['cleardump']).then(() => undefined), cb);
  }

  /** Starts the apps saved by dump() (`pm resurrect`). cb(err, procs): the list afterwards. */
  resurrect(cb) {
    return settle(this._cli(['resurrect']).then(() => this._procs({ verb: 'list' })), cb);
  }

  /**
   * Installs the boot script (`pm startup`). pm2's shapes: without root, cb(Error('You have to
   * run this with elevated rights')); else cb(null, { destination, template }) for systemd and
   * the like. pm-native answers { success, platform, output } with the CLI's output.
   */
  startup(platform, opts, cb) {
    if (typeof platform === 'function') [cb, platform, opts] = [platform, null, {}];
    if (typeof opts === 'function') [cb, opts] = [opts, {}];
    opts = opts || {};
    const p = (async () => {
      const args = ['startup'];
      if (platform) args.push(String(platform));
      if (opts.user) args.push('--user', String(opts.user));
      if (opts.hp) args.push('--hp', String(opts.hp));
      if (opts.serviceName) args.push('--service-name', String(opts.serviceName));
      if (opts.waitIp) args.push('--wait-ip');
      if (typeof process.getuid === 'function' && process.getuid() !== 0) {
        // The CLI prints the command to run as root; pm2's API fails here, so does this one,
        // with that command in `output`.
        const output = await this._cli(args).catch((e) => e.stdout || '');
        const e = new Error('You have to run this with elevated rights');
        e.output = output;
        throw e;
      }
      const output = await this._cli(args);
      return { success: true, platform: platform || null, output };
    })();
    return settle(p, cb);
  }

  /** Saves the list, restarts the daemon on the current binary and resurrects (`pm update`). */
  update(cb) {
    return settle(this._cli(['update']).then(() => ({ success: true })), cb);
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
    force = Boolean(force || process.env.FORCE);
    const p = this._procs({ verb: 'dump', force }).then((saved) => {
      if (saved.length === 0 && !force) {
        throw new Error('Process list empty, cannot save empty list');
      }
      return { success: true };
    });
    return settle(p, cb);
  }
}

module.exports = { PM2 };
