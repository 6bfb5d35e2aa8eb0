'use strict';
// Pool: worker processes running require('pm-native/worker').handle(fn), supervised natively.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pool } = require('..');
const { isAlive, waitFor } = require('./helpers');
const { ROOT, fixtures } = require('./library-helpers');

const WORKER = JSON.stringify(path.join(ROOT, 'worker.js'));
const fx = fixtures({
  // Doubles numbers; other tasks say what to do: fail, crash, crash once (marker file), wait.
  'work.js': `
const fs = require('fs');
require(${WORKER}).handle(async (t) => {
  if (typeof t === 'number') return t * 2;
  if (t.fail) throw Object.assign(new TypeError('bad task ' + t.fail), { code: 'E_TASK' });
  if (t.crash) process.exit(9);
  if (t.crashOnce) {
    if (!fs.existsSync(t.crashOnce)) { fs.writeFileSync(t.crashOnce, String(process.pid)); process.exit(9); }
    return 'survived in ' + process.pid;
  }
  if (t.wait) { await new Promise((r) => setTimeout(r, t.wait)); return 'waited'; }
  if (t.pid) return process.pid;
  return t;
});
`,
  'broken.js': "throw new Error('cannot start');\n",
});
after(() => fx.cleanup());

function pool(file, opts) {
  const p = new Pool(fx.file(file), { env: fx.env, ...opts });
  for (const w of p._workers) fx.track(w.child);
  return p;
}

test('throughput: 20,000 tasks, every result right and in its own promise', async (t) => {
  const p = pool('work.js', { size: 2, maxQueue: Infinity });
  const n = 20000;
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => p.run(i)));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  results.forEach((r, i) => assert.equal(r, i * 2));
  t.diagnostic(`${Math.round(n / secs)} tasks/s with 2 workers`);
  assert.ok(n / secs > 1000, `at least 1,000 trivial tasks/s, got ${Math.round(n / secs)}`);
  assert.equal(p.completed, n);
  await p.close();
});

test('size: cpu / io / mixed follow the core count (×1, ×2, ×1.5)', async () => {
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  for (const [size, n] of [['cpu', cores], ['io', cores * 2], ['mixed', Math.round(cores * 1.5)], [3, 3]]) {
    const p = pool('work.js', { size });
    assert.equal(p.size, n, `size ${size}`);
    assert.equal(p._workers.length, n);
    await p.close();
  }
  assert.throws(() => new Pool(fx.file('work.js'), { size: 'huge' }), /workload must be cpu, io or mixed/);
});

test('a task that throws rejects with its error; the worker keeps serving', async () => {
  const p = pool('work.js', { size: 1 });
  await assert.rejects(p.run({ fail: 'x' }), (e) => e.name === 'TypeError' && e.message === 'bad task x' && e.code === 'E_TASK');
  assert.equal(await p.run(21), 42);
  await p.close();
});

test('crash in a task: retried once on a fresh worker, then rejected; the pool carries on', async () => {
  const p = pool('work.js', { size: 2 });
  const before = await Promise.all([p.run({ pid: 1 }), p.run({ pid: 1 })]);
  // Crashes on its first run only: the retry succeeds, in a new process.
  const marker = path.join(fx.dir, 'crashed-once');
  const survived = await p.run({ crashOnce: marker });
  assert.match(survived, /^survived in \d+$/);
  assert.notEqual(Number(fs.readFileSync(marker, 'utf8')), Number(survived.split(' ').pop()));
  // Crashes every time: rejected after the one retry.
  await assert.rejects(p.run({ crash: true }), (e) => e.code === 'ERR_WORKER_EXITED' && /code 9/.test(e.message));
  // Replaced workers serve the rest.
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => p.run(i)));
  assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => i * 2));
  assert.ok(before.some((pid) => !isAlive(pid)), 'a crashed worker was replaced');
  // The last crash's replacement may still be starting while the other worker served the 100.
  await waitFor(() => p._workers.filter((w) => w.ready && isAlive(w.child.pid)).length === 2, {
    message: 'the pool is back to full size',
  });
  await p.close();
});

test('retry: 0 rejects a task at its first crash', async () => {
  const p = pool('work.js', { size: 1, retry: 0 });
  const marker = path.join(fx.dir, 'no-retry');
  await assert.rejects(p.run({ crashOnce: marker }), { code: 'ERR_WORKER_EXITED' });
  assert.equal(await p.run(1), 2);
  await p.close();
});

test('the queue is bounded: run() beyond maxQueue rejects with ERR_POOL_QUEUE_FULL', async () => {
  const p = pool('work.js', { size: 1, maxQueue: 2 });
  const busy = p.run({ wait: 300 });
  await waitFor(() => p.queueSize === 0, { message: 'the first task to start' });
  const queued = [p.run(1), p.run(2)];
  await assert.rejects(p.run(3), (e) => e.code === 'ERR_POOL_QUEUE_FULL' && /maxQueue/.test(e.message));
  assert.equal(await busy, 'waited');
  assert.deepEqual(await Promise.all(queued), [2, 4]);
  await p.close();
});

test('close() lets queued and running tasks finish, refuses new ones, then stops the workers', async () => {
  const p = pool('work.js', { size: 2 });
  const pids = await Promise.all([p.run({ pid: 1 }), p.run({ pid: 1 })]);
  const pending = [p.run({ wait: 200 }), p.run({ wait: 200 }), p.run(5)];
  const closed = p.close();
  await assert.rejects(p.run(1), { code: 'ERR_POOL_CLOSED' });
  assert.deepEqual(await Promise.all(pending), ['waited', 'waited', 10]);
  await closed;
  for (const pid of pids) assert.ok(!isAlive(pid), `worker ${pid} stopped`);
});

test('a worker script that cannot start fails the pool with ERR_WORKER_INIT instead of looping', async () => {
  const p = pool('broken.js', { size: 1 });
  await assert.rejects(p.run(1), (e) => e.code === 'ERR_WORKER_INIT' && /broken\.js/.test(e.message));
  await assert.rejects(p.run(2), { code: 'ERR_WORKER_INIT' });
  await p.close();
});
