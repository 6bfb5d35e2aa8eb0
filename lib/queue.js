'use strict';
// Message queues: `queue(name)` is brokered by the local daemon (src/queue), `queue(name,
// { redis })` by a Redis server (lib/queue-redis.js); both give the same Queue API.
//
// Local transport: each Queue keeps one connection to the daemon's rpc.sock for pushes and
// admin, and each consumer opens its own, which the daemon feeds as credit allows (credit =
// concurrency). A consumer's death is its connection closing, so the daemon gives its jobs
// back at once. Requests made in the same turn of the event loop travel as one frame (pushes
// to one queue as one push of many jobs, acks as one ack of many ids).

const net = require('node:net');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const native = require('../binding.js');

const binPath = path.join(__dirname, '..', 'bin', 'pm');

const NAME_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

function queueError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

function checkName(name) {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw queueError('ERR_QUEUE_NAME', `invalid queue name ${JSON.stringify(name)}: use 1 to 128 characters among letters, digits, '_', '.', ':' and '-'`);
  }
}

/** The job's JSON, or a clear error for what JSON cannot carry or what is over the limit. */
function encodeData(name, data, maxPayload) {
  let json;
  try {
    json = JSON.stringify(data);
  } catch (e) {
    throw queueError('ERR_QUEUE_DATA', `queue ${name}: the job data is not JSON-serialisable: ${e.message}`);
  }
  if (json === undefined) {
    throw queueError('ERR_QUEUE_DATA', `queue ${name}: the job data is not JSON-serialisable (${data === undefined ? 'undefined' : typeof data})`);
  }
  const size = Buffer.byteLength(json);
  if (size > maxPayload) {
    throw queueError('ERR_QUEUE_PAYLOAD', `queue ${name}: the job is ${size} bytes of JSON, over the payload limit of ${maxPayload} (option maxPayload)`);
  }
  return json;
}

function checkPushOptions(o) {
  const priority = o.priority === undefined ? 0 : o.priority;
  const delay = o.delay === undefined ? 0 : o.delay;
  if (!Number.isInteger(priority) || Math.abs(priority) > 2 ** 31 - 1) throw queueError('ERR_INVALID_ARG_VALUE', `priority must be an integer, got ${priority}`);
  if (!Number.isFinite(delay) || delay < 0) throw queueError('ERR_INVALID_ARG_VALUE', `delay must be a number of milliseconds ≥ 0, got ${delay}`);
  return { priority, delay: Math.round(delay) };
}

/** The daemon's coded error as a JS Error with `code` (queue_full... mapped to ERR_QUEUE_*). */
function replyError(reply) {
  return queueError(reply.code === 'invalid_input' ? 'ERR_QUEUE_INVALID' : 'ERR_QUEUE_FAILED', reply.message);
}

/**
 * One queue session on rpc.sock: frames are a u32 big-endian length and JSON (src/protocol/frame.rs).
 * Emits 'jobs' (queue, jobs) and 'close' (hadError).
 */
class Session extends EventEmitter {
  static async open(home) {
    await native.ensureDaemon(home, binPath);
    const sock = native.homeDir(home) + '/rpc.sock';
    const s = new Session(net.createConnection(sock));
    await s._hello();
    return s;
  }

  constructor(socket) {
    super();
    this.socket = socket;
    this.closed = false;
    this._buf = Buffer.alloc(0);
    this._rid = 1;
    this._waiting = new Map(); // rid → { resolve, reject }
    this._out = [];
    this._flushing = false;
    this._onHello = null;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk) => this._data(chunk));
    socket.on('error', (e) => (this._error = e));
    socket.on('close', () => this._closed());
  }

  _hello() {
    return new Promise((resolve, reject) => {
      this._onHello = (frame) => {
        if (frame.kind === 'hello' && frame.protocol === native.protocolVersion()) resolve();
        else {
          reject(queueError('ERR_QUEUE_DAEMON', `the running daemon speaks protocol ${frame.protocol}, this library ${native.protocolVersion()}; run \`pm kill\` to stop it, then retry`));
          this.close();
        }
      };
      this._onHelloFail = reject;
      this._send(JSON.stringify({ verb: 'hello', protocol: native.protocolVersion(), version: native.version() }));
    });
  }

  _send(json) {
    const body = Buffer.from(json);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    this._out.push(head, body);
    if (!this._flushing) {
      this._flushing = true;
      setImmediate(() => {
        this._flushing = false;
        const out = this._out;
        this._out = [];
        if (!this.closed && out.length) this.socket.write(Buffer.concat(out));
      });
    }
  }

  /** Sends a queue op (the JSON of its fields after `"op"`), resolving with the reply frame. */
  request(op, fieldsJson) {
    if (this.closed) return Promise.reject(queueError('ERR_QUEUE_DISCONNECTED', 'the connection to the daemon is closed'));
    const rid = this._rid++;
    return new Promise((resolve, reject) => {
      this._waiting.set(rid, { resolve, reject });
      this._send(`{"verb":"queue","op":"${op}","rid":${rid}${fieldsJson ? ',' + fieldsJson : ''}}`);
    });
  }

  _data(chunk) {
    this._buf = this._buf.length ? Buffer.concat([this._buf, chunk]) : chunk;
    let off = 0;
    while (this._buf.length - off >= 4) {
      const len = this._buf.readUInt32BE(off);
      if (this._buf.length - off - 4 < len) break;
      const frame = JSON.parse(this._buf.toString('utf8', off + 4, off + 4 + len));
      off += 4 + len;
      this._frame(frame);
    }
    this._buf = off === this._buf.length ? Buffer.alloc(0) : this._buf.subarray(off);
  }

  _frame(f) {
    if (this._onHello) {
      const h = this._onHello;
      this._onHello = null;
      return h(f);
    }
    if (f.q === 'jobs') return this.emit('jobs', f.queue, f.jobs);
    const w = this._waiting.get(f.rid);
    if (!w) {
      if (f.q === 'failed') this.emit('protocol-error', replyError(f));
      return;
    }
    this._waiting.delete(f.rid);
    if (f.q === 'failed') w.reject(replyError(f));
    else w.resolve(f);
  }

  _closed() {
    if (this.closed) return;
    this.closed = true;
    const why = this._error ? `: ${this._error.message}` : '';
    const err = queueError('ERR_QUEUE_DISCONNECTED', `the connection to the daemon was lost${why}; a push in flight may or may not have been queued`);
    if (this._onHelloFail) {
      const f = this._onHelloFail;
      this._onHelloFail = null;
      if (this._onHello) f(err);
    }
    for (const w of this._waiting.values()) w.reject(err);
    this._waiting.clear();
    this.emit('close');
  }

  close() {
    if (this.closed) return;
    this.socket.end();
    this.socket.destroy();
    this._closed();
  }
}

/** A job handed to a consumer: `data`, `id`, `attempts`; `ack()` or `nack()` it exactly once. */
class Job {
  constructor(consumer, d) {
    this.id = d.id;
    this.data = d.data;
    this.priority = d.priority;
    this.attempts = d.attempts;
    this.queue = consumer.queue.name;
    this._consumer = consumer;
    this._session = consumer._session;
    this._settled = false;
  }

  /** Done: the job leaves the queue. Resolves true, or false when this consumer no longer held
   * it (its visibility timeout passed or the connection was lost: it is delivered again). */
  ack() {
    return this._settle('ack', {});
  }

  /** Not done: `{ requeue: true, delay }` (the default) puts it back, `{ deadLetter: true }`
   * moves it to the queue `<name>.dead`, `{ requeue: false }` drops it. */
  nack(opts = {}) {
    return this._settle('nack', opts);
  }

  _settle(kind, opts) {
    if (this._settled) return Promise.resolve(false);
    this._settled = true;
    return this._consumer._settle(this, kind, opts);
  }
}

/** What consume() returns: an async iterator of jobs, with close(). */
/**
 * The iterator half both transports' consumers share (this file's and queue-redis.js'): jobs
 * handed over wait in `_ready` until next() takes them, and next() calls made before a job
 * arrives wait in `_takers`. A consumer that failed rejects next() with why; a closed or
 * draining one ends it.
 */
class JobIterator {
  constructor() {
    this._ready = []; // jobs delivered, not yet taken by the iterator
    this._takers = []; // next() calls waiting for a job
    this._closed = false;
    this._failed = null;
    this._draining = null; // drain()'s promise, once asked
  }

  _deliver(job) {
    const t = this._takers.shift();
    if (t) t.resolve({ value: job, done: false });
    else this._ready.push(job);
  }

  /** Answers every waiting next(): rejected with `err`, or done. */
  _endTakers(err) {
    for (const t of this._takers) {
      if (err) t.reject(err);
      else t.resolve({ value: undefined, done: true });
    }
    this._takers = [];
  }

  next() {
    if (this._ready.length) return Promise.resolve({ value: this._ready.shift(), done: false });
    if (this._failed) return Promise.reject(this._failed);
    if (this._closed || this._draining) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this._takers.push({ resolve, reject }));
  }

  return() {
    return this.close().then(() => ({ value: undefined, done: true }));
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

class Consumer extends JobIterator {
  constructor(queue, opts) {
    super();
    this.queue = queue;
    this.concurrency = opts.concurrency === undefined ? 1 : opts.concurrency;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw queueError('ERR_INVALID_ARG_VALUE', `concurrency must be a positive integer, got ${opts.concurrency}`);
    this.visibilityTimeout = opts.visibilityTimeout ?? queue.options.visibilityTimeout;
    this._session = null;
    this._pendingAcks = new Map(); // 'ack' | nack key → { ids, waiters, fields }
    this._held = 0; // delivered on this session and not yet settled
    this._onIdle = null; // resolves drain() when _held reaches 0
    this._backoff = RECONNECT_MIN_MS;
    // A first connection that fails is the caller's error (no daemon binary, a bad home...);
    // later ones are retried with backoff. `consuming` resolves once the daemon counts it.
    this.consuming = this._connect();
    this.consuming.catch((e) => {
      this._failed = e;
      this._closed = true;
      this._endTakers(e);
    });
  }

  async _connect() {
    const s = await Session.open(this.queue.options.home);
    if (this._closed) return s.close();
    this._session = s;
    s.on('jobs', (_q, jobs) => {
      if (this._draining) return this._release(s, jobs.map((d) => d.id)); // sent before our cancel
      this._held += jobs.length;
      for (const d of jobs) this._deliver(new Job(this, d));
    });
    s.on('close', () => this._lost(s));
    const vis = this.visibilityTimeout === undefined ? '' : `,"visibility_ms":${Math.max(1, Math.round(this.visibilityTimeout))}`;
    await s.request('consume', `"queue":${JSON.stringify(this.queue.name)},"concurrency":${this.concurrency}${vis}`);
    this._backoff = RECONNECT_MIN_MS;
  }

  /** The daemon went away: what it had handed us comes back to someone; reconnect. */
  _lost(s) {
    if (s !== this._session) return;
    this._session = null;
    this._ready = [];
    this._held = 0; // the daemon took them back
    this._idle();
    if (this._closed || this._draining) return;
    const retry = () => {
      if (this._closed) return;
      this._connect().catch(() => {
        this._backoff = Math.min(this._backoff * 2, RECONNECT_MAX_MS);
        setTimeout(retry, this._backoff).unref?.();
      });
    };
    setTimeout(retry, this._backoff);
  }

  _settle(job, kind, opts) {
    const s = this._session;
    if (!s || s !== job._session || s.closed) return Promise.resolve(false);
    let fields = '';
    if (kind === 'nack') {
      const requeue = opts.deadLetter ? false : opts.requeue !== false;
      const delay = Math.max(0, Math.round(Number(opts.delay) || 0));
      fields = `"requeue":${requeue},"dead_letter":${!!opts.deadLetter},"delay_ms":${delay}`;
    }
    const key = kind + fields;
    let p = this._pendingAcks.get(key);
    if (!p) {
      p = { ids: [], waiters: new Map() };
      this._pendingAcks.set(key, p);
      // Everything settled in this turn goes as one request.
      setImmediate(() => {
        this._pendingAcks.delete(key);
        const settled = () => {
          if (s === this._session) this._held -= p.ids.length;
          this._idle();
        };
        s.request(kind, `"ids":[${p.ids.join(',')}]${fields ? ',' + fields : ''}`).then(
          (r) => {
            const missed = new Set(r.missed || []);
            for (const [id, res] of p.waiters) res(!missed.has(id));
            settled();
          },
          () => {
            for (const res of p.waiters.values()) res(false);
            settled();
          },
        );
      });
    }
    p.ids.push(job.id);
    return new Promise((resolve) => p.waiters.set(job.id, resolve));
  }

  /** Gives jobs this consumer was handed but never started back to the queue, unattempted. */
  _release(s, ids) {
    if (ids.length && !s.closed) this._cancel(s, ids);
  }

  /** Ends this consumer's deliveries and releases `ids`; never rejects. */
  _cancel(s, ids) {
    return s.request('cancel', `"queue":${JSON.stringify(this.queue.name)},"release":[${ids.join(',')}]`).catch(() => {});
  }

  _idle() {
    if (this._held <= 0 && this._onIdle) this._onIdle();
  }

  /**
   * Stops taking jobs and finishes the ones in hand, then closes: the iterator ends, jobs
   * delivered but not yet taken from it go back to the queue (not counted as an attempt),
   * and the promise resolves once every job taken has been acked or nacked. This is how a
   * consumer stops for a reload or a scale-down without losing a job or running one twice.
   */
  drain() {
    if (this._draining) return this._draining;
    this._draining = (async () => {
      this._endTakers();
      const unstarted = this._ready.map((j) => j.id);
      this._ready = [];
      const s = this._session;
      if (s && !s.closed) {
        this._held -= unstarted.length;
        // Answered after the deliveries the daemon made before it: those are released above.
        await this._cancel(s, unstarted);
        if (this._held > 0 && s === this._session) await new Promise((r) => (this._onIdle = r));
      }
      this._onIdle = null;
      await this.close();
    })();
    return this._draining;
  }

  /** Stops consuming; jobs delivered but not acked go back to the queue at once. */
  close() {
    if (this._closed) return Promise.resolve();
    this._closed = true;
    this._endTakers();
    this._ready = [];
    // Acks made in this turn still go out before the connection closes.
    return new Promise((resolve) =>
      setImmediate(() => {
        const s = this._session;
        this._session = null;
        if (s) {
          s.socket.end();
          s.socket.once('close', resolve);
          setTimeout(() => s.close(), 1000).unref();
        } else resolve();
      }),
    );
  }
}

class Queue {
  /**
   * @param {string} name
   * @param {object} [options] home (PM_HOME), maxLength (default 100000), maxPayload (bytes of
   *   JSON per job, default 1 MiB), visibilityTimeout (ms, default 30000).
   */
  constructor(name, options = {}) {
    checkName(name);
    this.name = name;
    this.options = {
      home: options.home || options.pm2_home || null,
      maxLength: options.maxLength,
      maxPayload: options.maxPayload === undefined ? DEFAULT_MAX_PAYLOAD : options.maxPayload,
      visibilityTimeout: options.visibilityTimeout,
    };
    if (this.options.maxLength !== undefined && !(Number.isInteger(this.options.maxLength) && this.options.maxLength > 0)) {
      throw queueError('ERR_INVALID_ARG_VALUE', `maxLength must be a positive integer, got ${options.maxLength}`);
    }
    this._session = null;
    this._pushes = []; // { json, priority, delay, resolve, reject } of this turn
    this._consumers = new Set();
  }

  _admin() {
    if (this._session && !this._session.closed) return Promise.resolve(this._session);
    if (!this._opening) {
      this._opening = Session.open(this.options.home).then(
        (s) => {
          this._opening = null;
          this._session = s;
          s.socket.unref(); // an idle producer does not keep the program alive
          return s;
        },
        (e) => {
          this._opening = null;
          throw e;
        },
      );
    }
    return this._opening;
  }

  /** Queues `data` (anything JSON can carry); resolves with the job id once it is on disk. */
  push(data, opts = {}) {
    let json, o;
    try {
      json = encodeData(this.name, data, this.options.maxPayload);
      o = checkPushOptions(opts);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this._pushes.push({ json, ...o, resolve, reject });
      if (this._pushes.length === 1) setImmediate(() => this._flushPushes());
    });
  }

  async _flushPushes() {
    const batch = this._pushes;
    this._pushes = [];
    const fail = (e) => batch.forEach((p) => p.reject(e));
    let s;
    try {
      s = await this._admin();
    } catch (e) {
      return fail(e);
    }
    s.socket.ref();
    const jobs = batch.map((p) => `{"data":${p.json},"priority":${p.priority},"delay_ms":${p.delay}}`).join(',');
    const max = this.options.maxLength === undefined ? '' : `,"max_length":${this.options.maxLength}`;
    let r;
    try {
      r = await s.request('push', `"queue":${JSON.stringify(this.name)},"jobs":[${jobs}]${max}`);
    } catch (e) {
      return fail(e);
    } finally {
      if (s._waiting.size === 0) s.socket.unref();
    }
    batch.forEach((p, i) => {
      if (i < r.ids.length) p.resolve(r.ids[i]);
      else p.reject(queueError('ERR_QUEUE_FULL', r.error ? r.error.reason || r.error.message : `queue ${this.name} is full`));
    });
  }

  /** An async iterator of jobs, `concurrency` of them held at once at most. */
  consume(opts = {}) {
    const c = new Consumer(this, opts);
    this._consumers.add(c);
    const close = c.close.bind(c);
    c.close = () => {
      this._consumers.delete(c);
      return close();
    };
    return c;
  }

  /**
   * Runs `handler(data, job)` for each job, up to `concurrency` at once; a job is acked when
   * the handler resolves and nacked (requeued) when it throws, moved to the dead-letter queue
   * once it has failed `maxAttempts` times (default 5). Returns the consumer (close() stops).
   */
  process(handler, opts = {}) {
    const maxAttempts = opts.maxAttempts === undefined ? 5 : opts.maxAttempts;
    const c = this.consume(opts);
    const run = async (job) => {
      try {
        await handler(job.data, job);
        await job.ack();
      } catch (e) {
        if (opts.onError) opts.onError(e, job);
        await job.nack(job.attempts >= maxAttempts ? { deadLetter: true } : { requeue: true });
      }
    };
    const active = new Set();
    const loop = (async () => {
      for (;;) {
        const { value: job, done } = await c.next();
        if (done) break;
        const p = run(job).finally(() => active.delete(p));
        active.add(p);
      }
      await Promise.all(active);
    })();
    c.done = loop;
    const drain = c.drain.bind(c);
    c.drain = () => drain().then(() => loop);
    return c;
  }

  async _ask(op, fields) {
    const s = await this._admin();
    s.socket.ref();
    try {
      return await s.request(op, fields);
    } finally {
      if (s._waiting.size === 0) s.socket.unref();
    }
  }

  /** This queue's counters: ready, delayed, in_flight, consumers, pushed, acked, ... */
  async stats() {
    const r = await this._ask('stats', '');
    return r.queues.find((q) => q.name === this.name) || { name: this.name, ready: 0, delayed: 0, in_flight: 0, consumers: 0, pushed: 0, acked: 0, nacked: 0, redelivered: 0, acked_per_sec: 0, pushed_per_sec: 0 };
  }

  /** The next `count` jobs in delivery order, left in the queue. */
  async peek(count = 10) {
    return (await this._ask('peek', `"queue":${JSON.stringify(this.name)},"count":${Math.max(0, count | 0)}`)).jobs;
  }

  /** Drops the waiting and delayed jobs; resolves with how many. */
  async purge() {
    return (await this._ask('purge', `"queue":${JSON.stringify(this.name)}`)).count;
  }

  /** Closes the producer connection and every consumer of this Queue object. */
  async close() {
    await Promise.all([...this._consumers].map((c) => c.close()));
    if (this._session) this._session.close();
    this._session = null;
  }
}

/** `queue(name)`: the daemon's queue; `queue(name, { redis: url })`: a Redis one. */
function queue(name, options = {}) {
  if (options.redis) return require('./queue-redis.js').redisQueue(name, options);
  return new Queue(name, options);
}

module.exports = { queue, Queue, Consumer, Job, JobIterator, checkName, encodeData, checkPushOptions, queueError };
