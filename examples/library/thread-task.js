'use strict';
// The same trivial task for the thread pools (piscina and workerpool).
const workerpool = require('workerpool');

function task(n) {
  return n + 1;
}
if (!require('node:worker_threads').isMainThread && process.env.BENCH_POOL === 'workerpool') {
  workerpool.worker({ task });
}
module.exports = task;
