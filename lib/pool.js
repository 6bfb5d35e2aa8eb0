'use strict';
// Pool: a fixed set of fork()ed worker processes running `require('pm-native/worker').handle(fn)`.
// Workers restart natively (fork's restart: 'always'); the pool only routes tasks, retries the
// ones a dying worker took with it, and bounds its queue. See worker.js for the envelope.

const { EventEmitter } = require('node:events');
const { fork } = require('./fork.js');
const { workloadSize } = require('../binding.js');

// A worker that dies this many times in a row before saying 'ready' is broken (a syntax
// error, a missing module): the pool fails rather than respawn it forever.
const MAX_START_FAILURES = 3;

function poolError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

function resolveSize(size) {
  if (size === undefined) return workloadSize('cpu');
  if (typeof size === 'string') return workloadSize(size);
  if (Number.isInteger(size) && size > 0) return size;
  throw poolError('ERR_INVALID_ARG_VALUE', `Pool size must be 'cpu', 'io', 'mixed' or a positive integer, got ${size}`);
}

/** The error a worker sent back, as a real Error. */
function reviveError(e) {
  const err = new Error(e && e.message);
  if (e && e.name) err.name = e.name;
  if (e && e.stack) err.stack = e.stack;
  if (e && e.code !== undefined) err.code = e.code;
  return err;
}

class Pool extends EventEmitter {
  /**
   * @param {string} filename worker script (calls require('pm-native/worker').handle)
   * @param {object} [options] size ('cpu' | 'io' | 'mixed' | n, default 'cpu'), maxQueue
   *   (default 1024 × size), retry (times a task is re-run after its worker died, default 1),
   *   concurrency (tasks in flight per worker, default 1), queue (a queue name, or
   *   `{ name, concurrency, ...queue() options }`: the pool also takes tasks from that queue,
   *   acking each once its worker returned), and fork() options (env, execArgv, cwd, args,
   *   killTimeout, ...).
   */
  constructor(filename, options = {}) {
    super();
    this.size = resolveSize(options.size);
    this.maxQueue = options.maxQueue === undefined ? 1024 * this.size : options.maxQueue;
    this.retry = options.retry === undefined ? 1 : options.retry === true ? 1 : Number(options.retry) || 0;
    this.concurrency = options.concurrency || 1;
    this.completed = 0;
    this._filename = filename;
    const { size, maxQueue, retry, concurrency, queue, ...forkOptions } = options;
    // A pool inside a queue-consumer app: its workers are the pool's, not consumers themselves.
    if (process.env.PM_QUEUE || (forkOptions.env && forkOptions.env.PM_QUEUE)) forkOptions.env = { ...(forkOptions.env || process.env), PM_QUEUE: undefined };
    // Restarted natively, at once and for ever (a crash loop at start-up is caught by
    // MAX_START_FAILURES). maxQueue 0: nothing sent to a dead worker waits for its successor,
    // since the pool re-runs those tasks itself and they would otherwise run twice.
    this._forkOptions = { ...forkOptions, restart: 'always', maxRestarts: 0xffffffff, minUptime: 0, maxQueue: 0 };
    this._queue = [];
    this._head = 0; // index of the next task in _queue (shifting arrays is O(n))
    this._nextId = 1;
    this._closing = null;
    this._failed = null;
    this._workers = [];
    for (let i = 0; i < this.size; i++) this._workers.push(this._spawn());
    this._consumer = queue ? this._consume(queue) : null;
  }

  /** Feeds the pool from a queue: as many jobs in hand as the workers can run at once. */
  _consume(spec) {
    const { queue: makeQueue } = require('./queue.js');
    const { name, concurrency, ...queueOptions } = typeof spec === 'string' ? { name: spec } : spec;
    this._queueObject = makeQueue(name, queueOptions);
    return this._queueObject.process((data) => this.run(data), {
      concurrency: concurrency || this.size * this.concurrency,
      maxAttempts: queueOptions.maxAttempts,
      onError: (e) => this.emit('taskError', e),
    });
  }

  /** Tasks waiting for a worker. */
  get queueSize() {
    return this._queue.length - this._head;
  }

  _spawn() {
    const child = fork(this._filename, this._forkOptions.args || [], this._forkOptions);
    const w = { child, ready: false, startFailures: 0, inflight: new Map() };
    child.on('message', (m) => this._onMessage(w, m));
    child.on('restart', (code, signal) => this._onDeath(w, code, signal, true));
    child.on('exit', (code, signal) => this._onDeath(w, code, signal, false));
    // A send to a worker that just died fails with ERR_IPC_*: its tasks are re-run on 'restart'.
    child.on('error', (e) => {
      if (!String(e.code).startsWith('ERR_IPC')) this._fail(e);
    });
    return w;
  }

  _onMessage(w, m) {
    if (m === null || typeof m !== 'object') return;
    if (m.$pm === 'ready') {
      w.ready = true;
      w.startFailures = 0;
      return this._pump();
    }
    if (m.$pm !== 'r' && m.$pm !== 'e') return;
    const task = w.inflight.get(m.id);
    if (!task) return;
    w.inflight.delete(m.id);
    this.completed++;
    if (m.$pm === 'r') task.resolve(m.v);
    else task.reject(reviveError(m.e));
    this._pump();
  }

  /** A worker died: retry or fail what it was running; it comes back by itself (restart). */
  _onDeath(w, code, signal, restarting) {
    if (!w.ready) w.startFailures++;
    w.ready = false;
    const lost = [...w.inflight.values()];
    w.inflight.clear();
    for (const task of lost.reverse()) {
      if (task.attempts <= this.retry && !this._failed) {
        this._queue.splice(this._head, 0, task); // to the front: it was first in line
      } else {
        const why = signal ? `signal ${signal}` : `code ${code}`;
        task.reject(poolError('ERR_WORKER_EXITED', `the worker exited (${why}) while running the task`));
      }
    }
    if (this._closing && !restarting) return this._maybeClosed();
    if (w.startFailures >= MAX_START_FAILURES) {
      return this._fail(
        poolError('ERR_WORKER_INIT', `${this._filename} exited ${MAX_START_FAILURES} times before it was ready (last: code ${code}, signal ${signal})`),
      );
    }
    if (!restarting && !this._closing && !this._failed) {
      // Gave up restarting (stopped from outside?): put a fresh worker in its place.
      const i = this._workers.indexOf(w);
      if (i >= 0) this._workers[i] = this._spawn();
    }
    this._pump();
  }

  _fail(err) {
    if (this._failed) return;
    this._failed = err;
    for (const task of this._queue.splice(this._head)) task.reject(err);
    this._queue = [];
    this._head = 0;
    for (const w of this._workers) {
      for (const task of w.inflight.values()) task.reject(err);
      w.inflight.clear();
      w.child.stop();
    }
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this._maybeClosed();
  }

  _pump() {
    for (const w of this._workers) {
      while (w.ready && w.inflight.size < this.concurrency && this._head < this._queue.length) {
        const task = this._queue[this._head];
        this._queue[this._head++] = undefined;
        task.attempts++;
        w.inflight.set(task.id, task);
        w.child.send({ $pm: 't', id: task.id, d: task.data });
      }
    }
    if (this._head > 1024 && this._head * 2 > this._queue.length) {
      this._queue = this._queue.slice(this._head);
      this._head = 0;
    }
    this._maybeClosed();
  }

  /** Runs `task` on a worker; resolves with what the worker's handler returned. */
  run(task) {
    if (this._failed) return Promise.reject(this._failed);
    if (this._closing) return Promise.reject(poolError('ERR_POOL_CLOSED', 'the pool is closing; run() is refused'));
    if (this.queueSize >= this.maxQueue) {
      return Promise.reject(poolError('ERR_POOL_QUEUE_FULL', `the pool queue is full (${this.maxQueue} tasks waiting; see options.maxQueue)`));
    }
    return new Promise((resolve, reject) => {
      this._queue.push({ id: this._nextId++, data: task, attempts: 0, resolve, reject });
      this._pump();
    });
  }

  _busy() {
    return this.queueSize > 0 || this._workers.some((w) => w.inflight.size > 0);
  }

  _maybeClosed() {
    if (!this._closing || this._closing.started || (this._busy() && !this._failed)) return;
    this._closing.started = true;
    Promise.all(this._workers.map((w) => w.child.stop())).then(() => this._closing.resolve());
  }

  /** Refuses new tasks, lets queued and running ones finish, then stops the workers. */
  close() {
    if (this._consumer && !this._consumerClosing) {
      // Stop taking jobs first (those held and not started go back to the queue), let the
      // running ones finish and be acked, then close as usual.
      this._consumerClosing = this._consumer
        .drain()
        .then(() => this._queueObject.close())
        .then(() => this.close());
      return this._consumerClosing;
    }
    if (!this._closing) {
      let resolve;
      const done = new Promise((r) => (resolve = r));
      this._closing = { resolve, done, started: false };
      this._maybeClosed();
    }
    return this._closing.done;
  }
}

module.exports = { Pool };
