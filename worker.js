'use strict';
// The worker side of a pm-native Pool: `require('pm-native/worker').handle(async (task) => result)`.
//
// Envelope (JSON over Node's IPC channel, one object per process.send):
//   worker → pool  {"$pm":"ready"}                          once handle() is installed
//   pool → worker  {"$pm":"t","id":<n>,"d":<task>}          a task
//   worker → pool  {"$pm":"r","id":<n>,"v":<result>}        its result
//   worker → pool  {"$pm":"e","id":<n>,"e":{name,message,stack,code}}   or its error
// Anything else on the channel is left to the worker's own 'message' listeners. A worker exits
// by itself when the pool disconnects (no other handles open), so pool.close() stays quick.

/** The parts of an error that survive JSON. */
function serializeError(e) {
  if (e instanceof Error) {
    const out = { name: e.name, message: e.message, stack: e.stack };
    if (e.code !== undefined) out.code = e.code;
    return out;
  }
  return { name: 'Error', message: String(e) };
}

function reply(msg) {
  try {
    process.send(msg);
  } catch (e) {
    // The result itself could not be serialized (a BigInt, a cycle): report that instead.
    process.send({ $pm: 'e', id: msg.id, e: serializeError(e) });
  }
}

/**
 * An app whose ecosystem entry declares `queue: { name, concurrency, ... }` (the daemon passes
 * it as PM_QUEUE): `fn(data, job)` runs for each job of that queue, `concurrency` at once, acked
 * when it resolves and requeued when it throws. On `kill_signal` (or pm2's `shutdown` message)
 * the app stops taking jobs, finishes those it started and exits, so a reload or a scale-down
 * neither loses a job nor runs one twice; the daemon waits for that up to the visibility timeout.
 */
function consumeQueue(fn, spec) {
  const { name, concurrency, maxAttempts, ...options } = spec;
  const q = require('./lib/queue.js').queue(name, options);
  const c = q.process((data, job) => fn(data, job), { concurrency, maxAttempts });
  let stopping = null;
  const stop = () => {
    if (stopping) return;
    stopping = c.drain().then(
      () => q.close().finally(() => process.exit(0)),
      (e) => {
        console.error(`pm-native/worker: queue ${name}: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('message', (m) => {
    if (m === 'shutdown') stop();
  });
  c.done.catch((e) => {
    // The queue cannot be consumed (Redis unreachable within connectTimeout, a daemon of
    // another version): an error the daemon shows and restarts on, not a silent idle app.
    console.error(`pm-native/worker: queue ${name}: ${e.message}`);
    process.exit(1);
  });
  // For wait_ready and reloads: ready once the broker counts this consumer.
  c.consuming.then(() => typeof process.send === 'function' && process.connected && process.send('ready'), () => {});
  return c;
}

/** What the daemon gave an app declaring `queue:`, or null (a pool worker, a plain app). */
function queueSpec() {
  const raw = process.env.PM_QUEUE;
  if (!raw) return null;
  try {
    const spec = JSON.parse(raw);
    return spec && typeof spec.name === 'string' ? spec : null;
  } catch {
    return null;
  }
}

/**
 * Runs `fn(task)` for every task the pool sends and returns its result (or error) to the pool.
 * In an app started with `queue:` in its ecosystem entry, runs `fn(data, job)` for each job of
 * that queue instead (see consumeQueue). `fn` may be async. Call it once, at start-up.
 */
function handle(fn) {
  if (typeof fn !== 'function') throw new TypeError('pm-native/worker: handle() takes a function');
  const spec = queueSpec();
  if (spec) return consumeQueue(fn, spec);
  if (typeof process.send !== 'function') {
    throw new Error('pm-native/worker: no IPC channel; start this script with new Pool(...) or fork()');
  }
  process.on('message', (msg) => {
    if (msg === null || typeof msg !== 'object' || msg.$pm !== 't') return;
    const { id, d } = msg;
    let result;
    try {
      result = fn(d);
    } catch (e) {
      return reply({ $pm: 'e', id, e: serializeError(e) });
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then(
        (v) => reply({ $pm: 'r', id, v }),
        (e) => reply({ $pm: 'e', id, e: serializeError(e) }),
      );
    } else {
      reply({ $pm: 'r', id, v: result });
    }
  });
  process.send({ $pm: 'ready' });
}

module.exports = { handle };
