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
 * Runs `fn(task)` for every task the pool sends and returns its result (or error) to the pool.
 * `fn` may be async. Call it once, at start-up.
 */
function handle(fn) {
  if (typeof fn !== 'function') throw new TypeError('pm-native/worker: handle() takes a function');
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
