#!/usr/bin/env node
'use strict';
// Library-mode benchmark: pm-native's fork() against child_process.fork (IPC round trips and
// streaming, small and 64 KB messages), and pm-native's Pool against a hand-written
// child_process pool, piscina and workerpool (both threads) on a trivial task.
//
//   node examples/library/bench.js            # 9 interleaved repetitions per row, median shown
//   node examples/library/bench.js --quick    # 3 repetitions, fewer messages
//   node examples/library/bench.js --only stream,pool   # rows whose label contains a word
//   node examples/library/bench.js --json     # raw samples as JSON on stdout (npm run bench reads them)
//
// Each row alternates the contenders within every repetition, so background load hits both.

const cp = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { fork, Pool } = require('../..');

const QUICK = process.argv.includes('--quick');
const JSON_OUT = process.argv.includes('--json');
const report = { node: process.version, cpus: os.cpus().length, reps: 0, poolSize: 0, rows: [] };
const print = (line) => (JSON_OUT ? undefined : console.log(line));
// Round trips are bimodal (parent and child on one core or two, as the scheduler decides), so
// full runs take more repetitions than the bench's usual 5 for a stable median.
const REPS = QUICK ? 3 : 9;
const ONLY = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? process.argv[i + 1].split(',') : null;
})();
const ECHO = path.join(__dirname, 'echo-worker.js');
const SMALL = { hello: 'world', n: 42, list: [1, 2, 3] };
const BIG = { data: 'x'.repeat(64 * 1024) };
const POOL_SIZE = os.availableParallelism ? os.availableParallelism() : os.cpus().length;

const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));
const now = () => Number(process.hrtime.bigint()) / 1e9;

async function startEcho(kind) {
  const child = kind === 'pm-native' ? fork(ECHO) : cp.fork(ECHO);
  await once(child, 'spawn');
  // A first exchange, so start-up is not timed.
  child.send(SMALL);
  await once(child, 'message');
  return child;
}

async function stopEcho(child) {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Wall time and this process's CPU time of `fn`, per unit of `n`. */
async function timed(n, fn) {
  const c0 = process.cpuUsage();
  const t0 = now();
  await fn();
  const dt = now() - t0;
  const c = process.cpuUsage(c0);
  return { rate: n / dt, cpu: (c.user + c.system) / n };
}

/** One message in flight: round trips per second, and the parent's CPU µs per round trip. */
async function roundTrips(kind, payload, n) {
  const child = await startEcho(kind);
  const r = await timed(n, () =>
    new Promise((resolve) => {
      let left = n;
      child.on('message', () => (--left === 0 ? resolve() : child.send(payload)));
      child.send(payload);
    }),
  );
  await stopEcho(child);
  return r;
}

/** As fast as send() allows (it returns false under backpressure): echoes received per second. */
async function stream(kind, payload, n) {
  const child = await startEcho(kind);
  const r = await timed(n, () =>
    new Promise((resolve) => {
      let got = 0;
      let sent = 0;
      child.on('message', () => ++got === n && resolve());
      (function pump() {
        while (sent < n) {
          sent++;
          if (!child.send(payload)) return setImmediate(pump);
        }
        return undefined;
      })();
    }),
  );
  await stopEcho(child);
  return r;
}

/** The hand-written child_process pool: one task per worker in flight, a plain FIFO. */
function cpPool(size) {
  const queue = [];
  const idle = [];
  const pending = new Map();
  let nextId = 1;
  const workers = Array.from({ length: size }, () => {
    const w = cp.fork(path.join(__dirname, 'cp-pool-worker.js'));
    w.on('message', (m) => {
      pending.get(m.id)(m.v);
      pending.delete(m.id);
      const next = queue.shift();
      if (next) w.send(next);
      else idle.push(w);
    });
    idle.push(w);
    return w;
  });
  return {
    run(d) {
      return new Promise((resolve) => {
        const msg = { id: nextId++, d };
        pending.set(msg.id, resolve);
        const w = idle.pop();
        if (w) w.send(msg);
        else queue.push(msg);
      });
    },
    close() {
      for (const w of workers) w.kill('SIGKILL');
    },
  };
}

async function makePool(kind) {
  const task = path.join(__dirname, 'thread-task.js');
  switch (kind) {
    case 'pm-native Pool': {
      const pool = new Pool(path.join(__dirname, 'task-worker.js'), { size: POOL_SIZE, maxQueue: Infinity });
      return { run: (d) => pool.run(d), close: () => pool.close() };
    }
    case 'pm-native Pool, concurrency 8': {
      const pool = new Pool(path.join(__dirname, 'task-worker.js'), { size: POOL_SIZE, maxQueue: Infinity, concurrency: 8 });
      return { run: (d) => pool.run(d), close: () => pool.close() };
    }
    case 'child_process pool (hand-written)':
      return cpPool(POOL_SIZE);
    case 'piscina (threads)': {
      const Piscina = require('piscina');
      const pool = new Piscina({ filename: task, minThreads: POOL_SIZE, maxThreads: POOL_SIZE });
      return { run: (d) => pool.run(d), close: () => pool.destroy() };
    }
    case 'workerpool (threads)': {
      process.env.BENCH_POOL = 'workerpool';
      const pool = require('workerpool').pool(task, { maxWorkers: POOL_SIZE, workerType: 'thread' });
      return { run: (d) => pool.exec('task', [d]), close: () => pool.terminate(true) };
    }
    default:
      throw new Error(kind);
  }
}

/** Tasks per second for `n` trivial tasks submitted at once, after a warm-up. */
async function poolThroughput(kind, n) {
  const pool = await makePool(kind);
  await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run(i)));
  const t0 = now();
  await Promise.all(Array.from({ length: n }, (_, i) => pool.run(i)));
  const dt = now() - t0;
  await pool.close();
  return { 'tasks/s': n / dt };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

/**
 * Measures every contender REPS times, alternating their order, and prints one table line per
 * contender and metric (`measure` returns { unit: value }). Ratios are against the last
 * contender; for CPU per message, lower is better.
 */
async function row(label, contenders, measure) {
  if (ONLY && !ONLY.some((w) => label.includes(w))) return;
  const samples = Object.fromEntries(contenders.map((c) => [c, []]));
  for (let r = 0; r < REPS; r++) {
    for (const c of r % 2 ? [...contenders].reverse() : contenders) samples[c].push(await measure(c));
  }
  report.rows.push({ label, contenders: samples });
  const last = contenders[contenders.length - 1];
  for (const unit of Object.keys(samples[last][0])) {
    const base = median(samples[last].map((m) => m[unit]));
    for (const c of contenders) {
      const xs = samples[c].map((m) => m[unit]);
      const ratio = c === last ? '' : `${(median(xs) / base).toFixed(2)}×`;
      print(`| ${label} | ${c} | ${fmt(median(xs))} ${unit} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} | ${ratio} |`);
    }
  }
}

async function main() {
  const n = QUICK ? 2000 : 5000;
  const nBig = QUICK ? 300 : 1000;
  const bigMB = JSON.stringify(BIG).length / 1e6;
  report.reps = REPS;
  report.poolSize = POOL_SIZE;
  report.messages = { roundTripsSmall: n, roundTripsBig: nBig, streamSmall: n * 10, streamBig: nBig * 2 };
  print(`Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), ${REPS} repetitions, median (min–max)\n`);
  print('| What | Contender | Median | Range | vs last |');
  print('|---|---|---|---|---|');
  const ipc = ['pm-native', 'child_process'];
  const smallBytes = JSON.stringify(SMALL).length / 1e6;
  const perMessage = (bytes) => (r) => ({ 'msg/s': r.rate, 'MB/s': r.rate * bytes * 2, 'parent CPU µs/msg': r.cpu });
  await row('round trips, small', ipc, async (c) => perMessage(smallBytes)(await roundTrips(c, SMALL, n)));
  await row('round trips, 64 KB', ipc, async (c) => perMessage(bigMB)(await roundTrips(c, BIG, nBig)));
  await row('stream, small', ipc, async (c) => perMessage(smallBytes)(await stream(c, SMALL, n * 10)));
  await row('stream, 64 KB', ipc, async (c) => perMessage(bigMB)(await stream(c, BIG, nBig * 2)));
  const pools = [
    'pm-native Pool',
    'pm-native Pool, concurrency 8',
    'piscina (threads)',
    'workerpool (threads)',
    'child_process pool (hand-written)',
  ];
  await row(`pool of ${POOL_SIZE}, trivial tasks`, pools, (c) => poolThroughput(c, QUICK ? 10000 : 30000));
  print('\nA round trip is one message each way (msg/s = round trips/s); MB/s counts the JSON both');
  print('ways. Ratios are against the last contender of each row; for CPU µs/msg lower is better.');
  if (JSON_OUT) console.log(JSON.stringify(report));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
