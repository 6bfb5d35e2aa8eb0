'use strict';
// fork(): a supervised Node child whose IPC channel lives in Rust (src/binding/child). This file
// only changes shapes: options in, events out as an EventEmitter that reads like a ChildProcess.

const { EventEmitter } = require('node:events');
const path = require('node:path');
const { Readable } = require('node:stream');
const { NativeChild } = require('../binding.js');

// Event kinds from src/binding/child/events.rs (`kind`).
const MESSAGES = 0;
const SPAWN = 1;
const EXIT = 2;
const SENT = 3;
const DROPPED = 4;
const CHANNEL_CLOSED = 5;
const ERROR = 6;
const STDOUT = 7;
const STDERR = 8;
const RESTART = 9;

// Node's own threshold: send() returns false once this much waits to be written.
const BACKPRESSURE_BYTES = 2 * 65536;
// The longest timer Node accepts; the keep-alive timer never fires in practice.
const KEEPALIVE_MS = 2 ** 31 - 1;

function codeError(code, message, Ctor = Error) {
  const e = new Ctor(message);
  e.code = code;
  return e;
}

/** Node's `fork(modulePath[, args][, options])` argument shuffle. */
function normalizeArgs(args, options) {
  if (args == null) return [[], options || {}];
  if (!Array.isArray(args)) {
    if (typeof args === 'object') return [[], args];
    throw codeError('ERR_INVALID_ARG_TYPE', 'The "args" argument must be an array', TypeError);
  }
  return [args.map(String), options || {}];
}

/**
 * The parent's execArgv without `-e <script>` / `-p <script>`: otherwise a parent started with
 * `node -e` would make every child run that script again (and fork again). Node's fork does
 * the same.
 */
function inheritedExecArgv() {
  const out = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe') i++;
    else if (!/^--(eval|print)=/.test(a)) out.push(a);
  }
  return out;
}

/** Strings only, as the environment holds; `undefined` values are dropped (Node does so too). */
function envStrings(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = String(v);
  return out;
}

/** Infinity and other non-integers become something a u32 holds. */
function u32(v, name) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
    throw codeError('ERR_INVALID_ARG_VALUE', `options.${name} must be a non-negative number`, TypeError);
  }
  return Math.min(Math.floor(v), 0xffffffff);
}

/**
 * A supervised child. Events: 'spawn' (every child, pid set), 'message', 'restart'
 * (code, signal, {delay, restarts}) when a child exited and another follows, 'exit' (code,
 * signal) once at the very end, 'disconnect', 'error'.
 */
class SupervisedChild extends EventEmitter {
  constructor(modulePath, args, options) {
    super();
    if (options.serialization && options.serialization !== 'json') {
      throw codeError('ERR_INVALID_ARG_VALUE', "fork(): only serialization: 'json' is supported", TypeError);
    }
    const execArgv = options.execArgv || inheritedExecArgv();
    const file = path.resolve(options.cwd || '.', modulePath);
    this.spawnfile = options.execPath || process.execPath;
    this.spawnargs = [this.spawnfile, ...execArgv, file, ...args];
    this.exitCode = null;
    this.signalCode = null;
    this.killed = false;
    this.connected = true;
    this.restarts = 0;
    this.stdin = null;
    this.stdout = options.silent ? new Readable({ read() {} }) : null;
    this.stderr = options.silent ? new Readable({ read() {} }) : null;
    this._callbacks = []; // [seq, cb] in send order, for messages that had to be queued
    this._exited = null; // the final { code, signal } once known
    this._exitWaiters = [];
    // Bad options throw here, before anything runs.
    const nativeOptions = {
      execPath: this.spawnfile,
      args: this.spawnargs.slice(1),
      cwd: options.cwd,
      env: envStrings(options.env || process.env),
      silent: !!options.silent,
      restart: options.restart,
      maxRestarts: u32(options.maxRestarts, 'maxRestarts'),
      minUptime: u32(options.minUptime, 'minUptime'),
      restartDelay: u32(options.restartDelay, 'restartDelay'),
      expBackoffRestartDelay: u32(options.expBackoffRestartDelay, 'expBackoffRestartDelay'),
      killTimeout: u32(options.killTimeout, 'killTimeout'),
      killSignal: options.killSignal,
      maxQueue: u32(options.maxQueue, 'maxQueue'),
    };
    // What keeps Node running while the child lives (the native side does not): unref()able.
    this._keepalive = setInterval(() => {}, KEEPALIVE_MS);
    try {
      this._native = new NativeChild(nativeOptions, (kind, payload) => this._onEvent(kind, payload));
    } catch (e) {
      clearInterval(this._keepalive);
      if (e.code === 'InvalidArg') throw codeError('ERR_INVALID_ARG_VALUE', e.message, TypeError);
      // A spawn failure is an 'error' event, as with child_process (e.g. ENOENT for execPath).
      const m = /^(E[A-Z]+): /.exec(e.message);
      const err = codeError(m ? m[1] : 'ESPAWN', m ? e.message.slice(m[0].length) : e.message);
      err.syscall = `spawn ${this.spawnfile}`;
      err.path = this.spawnfile;
      this.connected = false;
      this._exited = { code: null, signal: null };
      process.nextTick(() => this.emit('error', err));
      return;
    }
    this.pid = this._native.pid;
  }

  _onEvent(kind, payload) {
    switch (kind) {
      case MESSAGES:
        return this._onMessages(payload);
      case SENT:
        return this._settle(Number(payload), null);
      case DROPPED:
        return this._settle(Number(payload), codeError('ERR_IPC_CHANNEL_CLOSED', 'Channel closed'));
      case SPAWN: {
        const info = JSON.parse(payload);
        this.pid = info.pid;
        if (this._exited === null) this.connected = true;
        return this.emit('spawn');
      }
      case RESTART: {
        const { code, signal, delay, restarts } = JSON.parse(payload);
        this.restarts = restarts;
        this.pid = undefined;
        return this.emit('restart', code, signal, { delay, restarts });
      }
      case CHANNEL_CLOSED:
        return this._disconnected();
      // The streams end at the final exit; nothing is pushed after that.
      case STDOUT:
        return this.stdout && !this._exited && this.stdout.push(payload);
      case STDERR:
        return this.stderr && !this._exited && this.stderr.push(payload);
      case ERROR: {
        const { message, code } = JSON.parse(payload);
        return this.emit('error', codeError(code || 'ERR_CHILD', message));
      }
      case EXIT:
        return this._onExit(JSON.parse(payload));
      default:
        return undefined;
    }
  }

  _onMessages(batch) {
    let messages;
    try {
      messages = JSON.parse(batch);
    } catch {
      messages = parseEach(batch);
    }
    for (const m of messages) {
      const internal = m !== null && typeof m === 'object' && typeof m.cmd === 'string' && m.cmd.startsWith('NODE_');
      try {
        this.emit(internal ? 'internalMessage' : 'message', m);
      } catch (e) {
        // Like a throwing listener under Node's nextTick delivery: uncaught, yet the rest of
        // the batch is still delivered.
        process.nextTick(() => {
          throw e;
        });
      }
    }
  }

  /** Calls back every queued send up to `seq`. */
  _settle(seq, err) {
    const cbs = this._callbacks;
    let i = 0;
    while (i < cbs.length && cbs[i][0] <= seq) i++;
    if (i === 0) return;
    for (const [, cb] of cbs.splice(0, i)) cb(err);
  }

  /** The channel closed by itself (the child disconnected, or the end). */
  _disconnected() {
    if (!this.connected) return;
    this.connected = false;
    this.emit('disconnect');
  }

  _onExit({ code, signal }) {
    this.exitCode = code;
    this.signalCode = signal;
    this.pid = undefined;
    this._exited = { code, signal };
    clearInterval(this._keepalive);
    this._disconnected();
    if (this.stdout) this.stdout.push(null);
    if (this.stderr) this.stderr.push(null);
    this.emit('exit', code, signal);
    for (const w of this._exitWaiters.splice(0)) w(this._exited);
  }

  /**
   * Node's `subprocess.send(message[, sendHandle[, options]][, callback])`. Returns false when
   * the caller should slow down; the callback runs once the message is written (or failed).
   * Handles are not supported: pass `undefined`/`null`.
   */
  send(message, handle, options, callback) {
    if (typeof handle === 'function') [callback, handle] = [handle, undefined];
    else if (typeof options === 'function') [callback, options] = [options, undefined];
    if (message === undefined) throw codeError('ERR_MISSING_ARGS', 'The "message" argument must be specified', TypeError);
    if (handle != null) throw codeError('ERR_INVALID_HANDLE_TYPE', 'fork(): sending handles is not supported', TypeError);
    const fail = (err) => {
      if (typeof callback === 'function') process.nextTick(callback, err);
      else process.nextTick(() => this.emit('error', err));
      return false;
    };
    if (!this._native || !this.connected) return fail(codeError('ERR_IPC_CHANNEL_CLOSED', 'Channel closed'));
    const hasCb = typeof callback === 'function';
    const r = this._native.send(JSON.stringify(message), hasCb);
    if (r === 0) {
      if (hasCb) process.nextTick(callback, null);
      return true;
    }
    if (r === -1) return fail(codeError('ERR_IPC_CHANNEL_CLOSED', 'Channel closed'));
    if (r === -2) {
      return fail(
        codeError('ERR_IPC_QUEUE_FULL', 'The child is restarting and its message queue is full (see options.maxQueue)'),
      );
    }
    if (hasCb) this._callbacks.push([r, callback]);
    return this._native.queuedBytes < BACKPRESSURE_BYTES;
  }

  /** Closes the channel; the child is not restarted once it exits. */
  disconnect() {
    if (!this.connected) {
      this.emit('error', codeError('ERR_IPC_DISCONNECTED', 'IPC channel is already disconnected'));
      return;
    }
    // As Node: no more sends from now on, 'disconnect' on the next tick.
    this._native.disconnect();
    this.connected = false;
    process.nextTick(() => this.emit('disconnect'));
  }

  /** Signals the current child (not its group), like ChildProcess.kill. Restart policy applies. */
  kill(signal = 'SIGTERM') {
    if (!this._native) return false;
    const sig = typeof signal === 'number' ? String(signal) : signal;
    const ok = this._native.kill(sig);
    if (ok) this.killed = true;
    return ok;
  }

  /**
   * Stops for good: killSignal (default SIGINT) to the child's process group, SIGKILL after
   * killTimeout (default 1600 ms). Resolves with the final { code, signal } once the whole
   * group is gone.
   */
  stop() {
    if (this._exited) return Promise.resolve(this._exited);
    const done = new Promise((resolve) => this._exitWaiters.push(resolve));
    this._native.stop();
    return done;
  }

  ref() {
    if (!this._exited) this._keepalive.ref();
    return this;
  }

  unref() {
    this._keepalive.unref();
    return this;
  }
}

/**
 * The slow path for a batch holding a line that is not JSON (a child writing garbage on fd 3):
 * Rust joins lines with ",\n" and a line never holds a raw newline, so split there, keep what
 * parses, and warn about the rest.
 */
function parseEach(batch) {
  const out = [];
  for (const line of batch.slice(1, -1).split(',\n')) {
    try {
      out.push(JSON.parse(line));
    } catch {
      process.emitWarning(`pm-native fork(): dropped a message that is not JSON: ${line.slice(0, 80)}`);
    }
  }
  return out;
}

/** `fork(modulePath[, args][, options])`, as child_process.fork, supervised natively. */
function fork(modulePath, args, options) {
  if (typeof modulePath !== 'string' && !(modulePath instanceof URL)) {
    throw codeError('ERR_INVALID_ARG_TYPE', 'The "modulePath" argument must be a string or URL', TypeError);
  }
  const file = modulePath instanceof URL ? require('node:url').fileURLToPath(modulePath) : modulePath;
  const [argv, opts] = normalizeArgs(args, options);
  return new SupervisedChild(file, argv, opts);
}

module.exports = { fork, SupervisedChild };
