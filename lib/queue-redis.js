'use strict';
// The Redis transport of queue(): the same API as the daemon's queues, on a Redis server, with
// ioredis as the client (see docs/ARCHITECTURE.md, "Message queues", for why this pattern).
//
// Keys of queue `x` (mode 'list' consumes a plain list `x` that any client LPUSHes JSON to):
//   x                 the ready list: producers LPUSH, consumers take from the right (FIFO)
//   x:delayed         sorted set of delayed jobs (score = due time, ms), moved to x when due
//   x:proc:<consumer> the jobs a consumer holds (the reliable-queue pattern: LMOVE x → here)
//   x:consumers       the consumers, each alive while x:hb:<consumer> (a TTL key) exists
//   x:attempts        hash: id → deliveries so far, for jobs delivered more than once
// A consumer whose heartbeat key expired is dead: the first live consumer to notice moves its
// processing list back to the head of x, atomically (a Lua script), so its jobs are next.

const os = require('node:os');
const crypto = require('node:crypto');
const { checkName, encodeData, checkPushOptions, queueError, JobIterator } = require('./queue.js');

const DEFAULT_CONNECT_TIMEOUT = 2000;
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TTL_MS = 5000;
const SWEEP_MS = 1000;
const DELAY_POLL_MS = 200;
const BLOCK_SECONDS = 1;

const SCRIPTS = {
  // KEYS: ready, delayed; ARGV: max length, then (raw, due, head) triples. Returns how many
  // were queued before the queue was full.
  qpush: {
    numberOfKeys: 2,
    lua: `
local max = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV, 3 do
  if redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= max then return n end
  local due = tonumber(ARGV[i + 1])
  if due > 0 then redis.call('ZADD', KEYS[2], due, ARGV[i])
  elseif ARGV[i + 2] == '1' then redis.call('RPUSH', KEYS[1], ARGV[i])
  else redis.call('LPUSH', KEYS[1], ARGV[i]) end
  n = n + 1
end
return n`,
  },
  // KEYS: delayed, ready; ARGV: now. Moves due jobs to the ready list.
  qdue: {
    numberOfKeys: 2,
    lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('LPUSH', KEYS[2], raw)
end
return #due`,
  },
  // KEYS: consumers set, ready, attempts; ARGV: queue name, envelope ('1' or '0'). Gives the
  // jobs of every consumer whose heartbeat expired back to the head of the ready list.
  qsweep: {
    numberOfKeys: 3,
    lua: `
local moved = 0
for _, c in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':hb:' .. c) == 0 then
    local proc = ARGV[1] .. ':proc:' .. c
    while true do
      local raw = redis.call('LMOVE', proc, KEYS[2], 'LEFT', 'RIGHT')
      if not raw then break end
      if ARGV[2] == '1' then
        local ok, job = pcall(cjson.decode, raw)
        if ok and type(job) == 'table' and job.id then redis.call('HINCRBY', KEYS[3], job.id, 1) end
      end
      moved = moved + 1
    end
    redis.call('SREM', KEYS[1], c)
  end
end
return moved`,
  },
  // KEYS: proc, target list, attempts; ARGV: raw, id, to the head ('1') or the tail. Moves a
  // held job back (requeue) or on (dead letter) in one step.
  qmove: {
    numberOfKeys: 3,
    lua: `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('RPUSH', KEYS[2], ARGV[1]) else redis.call('LPUSH', KEYS[2], ARGV[1]) end
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[2], 1) end
return 1`,
  },
  // KEYS: proc, delayed, attempts; ARGV: raw, id, due. A requeue with a delay.
  qlater: {
    numberOfKeys: 3,
    lua: `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[2], 1) end
return 1`,
  },
};

function loadIoredis() {
  try {
    return require('ioredis');
  } catch (e) {
    throw queueError('ERR_QUEUE_REDIS', `the Redis transport needs the ioredis package (npm install ioredis): ${e.message}`);
  }
}

/** A client that reconnects with backoff and never sends a command twice. */
function makeClient(url, opts) {
  const Redis = loadIoredis();
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: opts.connectTimeout,
    // A command written before the connection dropped may have run: never resend it.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...opts.redisOptions,
  });
  for (const [name, s] of Object.entries(SCRIPTS)) client.defineCommand(name, s);
  client.on('error', () => {}); // reported through the commands that fail
  return client;
}

/** Resolves once `client` is ready, or rejects after the connect timeout with the URL. */
function ready(client, url, timeout) {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') client.connect().catch(() => {});
  return new Promise((resolve, reject) => {
    let last = null;
    const onErr = (e) => (last = e);
    const done = (err) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onErr);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(
      () => done(queueError('ERR_QUEUE_REDIS', `cannot reach Redis at ${redact(url)} within ${timeout} ms${last ? `: ${last.message}` : ''}`)),
      timeout,
    );
    client.on('ready', onReady);
    client.on('error', onErr);
  });
}

function redact(url) {
  return String(url).replace(/\/\/[^@/]*@/, '//***@');
}

function redisError(url, e) {
  if (e && e.code && String(e.code).startsWith('ERR_QUEUE')) return e;
  return queueError('ERR_QUEUE_REDIS', `Redis at ${redact(url)}: ${e && e.message}; a push in flight may or may not have been queued`);
}

class RedisJob {
  constructor(consumer, raw, data, id, attempts) {
    this.id = id;
    this.data = data;
    this.priority = 0;
    this.attempts = attempts;
    this.queue = consumer.queue.name;
    this._consumer = consumer;
    this._raw = raw;
    this._settled = false;
  }

  ack() {
    return this._settle('ack', {});
  }

  nack(opts = {}) {
    return this._settle('nack', opts);
  }

  _settle(kind, opts) {
    if (this._settled) return Promise.resolve(false);
    this._settled = true;
    return this._consumer._settle(this, kind, opts);
  }
}

class RedisConsumer extends JobIterator {
  constructor(queue, opts) {
    super();
    this.queue = queue;
    this.concurrency = opts.concurrency === undefined ? 1 : opts.concurrency;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw queueError('ERR_INVALID_ARG_VALUE', `concurrency must be a positive integer, got ${opts.concurrency}`);
    this.id = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
    const k = queue.keys;
    this._proc = `${k.ready}:proc:${this.id}`;
    this._held = 0;
    this._onIdle = null;
    // Its own connection for the blocking moves; commands go on the queue's shared one.
    this._blocking = makeClient(queue.url, queue.options);
    this._wake = null;
    this._timers = [];
    let counted;
    this.consuming = new Promise((resolve, reject) => (counted = { resolve, reject }));
    this.consuming.catch(() => {});
    this._counted = counted;
    this._loop = this._run().catch((e) => {
      counted.reject(e);
      this._fail(e);
    });
  }

  async _run() {
    const q = this.queue;
    const k = q.keys;
    await Promise.all([ready(this._blocking, q.url, q.options.connectTimeout), q._ready()]);
    const beat = async () => {
      await q.client.multi().sadd(k.consumers, this.id).set(`${k.ready}:hb:${this.id}`, '1', 'PX', HEARTBEAT_TTL_MS).exec();
    };
    await beat();
    this._counted.resolve();
    const every = (ms, fn) => {
      const t = setInterval(() => fn().catch(() => {}), ms);
      this._timers.push(t);
    };
    every(HEARTBEAT_MS, beat);
    every(SWEEP_MS, () => q._sweep());
    every(DELAY_POLL_MS, () => q.client.qdue(k.delayed, k.ready, Date.now()));
    await q._sweep();
    while (!this._closed && !this._draining) {
      if (this._held >= this.concurrency) {
        await new Promise((r) => (this._wake = r));
        continue;
      }
      try {
        if (this._blocking.status !== 'ready') await ready(this._blocking, q.url, q.options.connectTimeout);
        const raw = await this._blocking.blmove(k.ready, this._proc, 'RIGHT', 'LEFT', BLOCK_SECONDS);
        if (raw === null) continue;
        const batch = [raw];
        // Fill the rest of the credit without blocking, in one round trip.
        const more = this.concurrency - this._held - 1;
        if (more > 0) {
          const p = this._blocking.pipeline();
          for (let i = 0; i < Math.min(more, 256); i++) p.lmove(k.ready, this._proc, 'RIGHT', 'LEFT');
          for (const [err, r] of await p.exec()) if (!err && r !== null) batch.push(r);
        }
        await this._deliverAll(batch);
      } catch (e) {
        if (this._closed || this._draining) break;
        // Redis went away: wait for it (reconnecting with backoff) and carry on.
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async _deliverAll(raws) {
    const q = this.queue;
    const jobs = raws.map((raw) => {
      let v;
      try {
        v = JSON.parse(raw);
      } catch {
        v = raw; // a plain producer's non-JSON string: given as it is
      }
      if (q.options.mode === 'list') return { raw, data: v, id: raw };
      return { raw, data: v && typeof v === 'object' && 'd' in v ? v.d : v, id: v && v.id !== undefined ? String(v.id) : raw };
    });
    if (this._draining) return this._release(raws); // moved just before the drain stopped the loop
    let counts = [];
    if (q.options.mode !== 'list') counts = await q.client.hmget(q.keys.attempts, ...jobs.map((j) => j.id));
    jobs.forEach((j, i) => {
      this._held++;
      this._deliver(new RedisJob(this, j.raw, j.data, j.id, 1 + Number(counts[i] || 0)));
    });
  }

  async _settle(job, kind, opts) {
    const q = this.queue;
    const k = q.keys;
    const id = q.options.mode === 'list' ? '' : job.id;
    const release = () => {
      this._held--;
      if (this._wake) {
        const w = this._wake;
        this._wake = null;
        w();
      }
      if (this._held <= 0 && this._onIdle) this._onIdle();
    };
    try {
      let n;
      if (kind === 'ack') {
        n = await q.client.lrem(this._proc, 1, job._raw);
        if (n && id && job.attempts > 1) q.client.hdel(k.attempts, id).catch(() => {});
      } else if (opts.deadLetter) {
        n = await q.client.qmove(this._proc, `${k.ready}.dead`, k.attempts, job._raw, '', '0');
      } else if (opts.requeue === false) {
        n = await q.client.lrem(this._proc, 1, job._raw);
      } else if (opts.delay > 0) {
        n = await q.client.qlater(this._proc, k.delayed, k.attempts, job._raw, id, Date.now() + Math.round(opts.delay));
      } else {
        n = await q.client.qmove(this._proc, k.ready, k.attempts, job._raw, id, '1');
      }
      return n > 0;
    } catch {
      return false;
    } finally {
      release();
    }
  }

  _fail(e) {
    this._failed = e;
    this._endTakers(e);
    this.close();
  }

  /** Puts jobs moved into this consumer's list but never started back at the head, unattempted. */
  async _release(raws) {
    const k = this.queue.keys;
    await Promise.all(raws.map((raw) => this.queue.client.qmove(this._proc, k.ready, k.attempts, raw, '', '1').catch(() => {})));
  }

  /** As the local consumer's drain(): stop taking, give back the unstarted, finish the rest, close. */
  drain() {
    if (this._draining) return this._draining;
    this._draining = (async () => {
      this._endTakers();
      const unstarted = this._ready;
      this._ready = [];
      if (this._wake) this._wake();
      this._blocking.disconnect(); // ends a BLMOVE waiting for a job
      await this._loop.catch(() => {});
      this._held -= unstarted.length;
      await this._release(unstarted.map((j) => j._raw));
      if (this._held > 0 && !this._closed) await new Promise((r) => (this._onIdle = r));
      this._onIdle = null;
      await this.close();
    })();
    return this._draining;
  }

  /** Stops consuming; the jobs this consumer held and did not settle go back to the queue. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._endTakers();
    this._ready = [];
    if (this._onIdle) this._onIdle();
    for (const t of this._timers) clearInterval(t);
    if (this._wake) this._wake();
    this._blocking.disconnect();
    await this._loop.catch(() => {});
    // Let the acks made just before closing land, then give back what is still held.
    await new Promise((r) => setImmediate(r));
    const q = this.queue;
    try {
      if (q.client.status === 'ready') {
        await q.client.del(`${q.keys.ready}:hb:${this.id}`);
        await q._sweep();
      }
    } catch {
      // Redis is away: the heartbeat expires and another consumer gives the jobs back.
    }
  }

}

class RedisQueue {
  constructor(name, options) {
    checkName(name);
    if (options.mode !== undefined && options.mode !== 'list' && options.mode !== 'reliable') {
      throw queueError('ERR_INVALID_ARG_VALUE', `mode must be 'reliable' (the default) or 'list', got ${options.mode}`);
    }
    this.name = name;
    this.url = options.redis;
    this.options = {
      mode: options.mode || 'reliable',
      maxLength: options.maxLength === undefined ? 100000 : options.maxLength,
      maxPayload: options.maxPayload === undefined ? 1024 * 1024 : options.maxPayload,
      connectTimeout: options.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT : options.connectTimeout,
      redisOptions: options.redisOptions,
    };
    this.keys = { ready: name, delayed: `${name}:delayed`, consumers: `${name}:consumers`, attempts: `${name}:attempts` };
    this.client = makeClient(this.url, this.options);
    this._consumers = new Set();
  }

  _ready() {
    if (this.client.status === 'ready') return Promise.resolve();
    // One wait shared by every call made while connecting (not a listener per push).
    if (!this._waiting) {
      this._waiting = ready(this.client, this.url, this.options.connectTimeout).finally(() => (this._waiting = null));
    }
    return this._waiting;
  }

  _sweep() {
    const k = this.keys;
    return this.client.qsweep(k.consumers, k.ready, k.attempts, this.name, this.options.mode === 'list' ? '0' : '1');
  }

  /** Queues `data`; in mode 'list' the bare JSON is pushed, as a plain producer does. */
  async push(data, opts = {}) {
    const json = encodeData(this.name, data, this.options.maxPayload);
    const o = checkPushOptions(opts);
    const raw = this.options.mode === 'list' ? json : `{"id":"${crypto.randomUUID()}","d":${json}}`;
    try {
      await this._ready();
      const due = o.delay > 0 ? Date.now() + o.delay : 0;
      const n = await this.client.qpush(this.keys.ready, this.keys.delayed, this.options.maxLength, raw, due, o.priority > 0 ? '1' : '0');
      if (n < 1) throw queueError('ERR_QUEUE_FULL', `queue ${this.name} is full: its maximum length is ${this.options.maxLength}`);
    } catch (e) {
      throw redisError(this.url, e);
    }
    return this.options.mode === 'list' ? raw : JSON.parse(raw).id;
  }

  consume(opts = {}) {
    const c = new RedisConsumer(this, opts);
    this._consumers.add(c);
    return c;
  }

  process(handler, opts = {}) {
    return require('./queue.js').Queue.prototype.process.call(this, handler, opts);
  }

  async stats() {
    await this._ready();
    const k = this.keys;
    const [[, ready], [, delayed], [, consumers]] = await this.client.multi().llen(k.ready).zcard(k.delayed).smembers(k.consumers).exec();
    let inFlight = 0;
    if (consumers.length) {
      const p = this.client.pipeline();
      for (const c of consumers) p.llen(`${k.ready}:proc:${c}`);
      for (const [, n] of await p.exec()) inFlight += Number(n) || 0;
    }
    return { name: this.name, ready, delayed, in_flight: inFlight, consumers: consumers.length };
  }

  async peek(count = 10) {
    await this._ready();
    const raws = await this.client.lrange(this.keys.ready, -count, -1);
    return raws.reverse().map((raw) => {
      try {
        const v = JSON.parse(raw);
        return this.options.mode === 'list' ? { id: raw, data: v } : { id: v.id, data: v.d };
      } catch {
        return { id: raw, data: raw };
      }
    });
  }

  async purge() {
    await this._ready();
    const [[, a], [, b]] = await this.client.multi().llen(this.keys.ready).zcard(this.keys.delayed).exec();
    await this.client.del(this.keys.ready, this.keys.delayed);
    return a + b;
  }

  async close() {
    await Promise.all([...this._consumers].map((c) => c.close()));
    this.client.disconnect();
  }
}

function redisQueue(name, options) {
  return new RedisQueue(name, options);
}

module.exports = { redisQueue, RedisQueue };
