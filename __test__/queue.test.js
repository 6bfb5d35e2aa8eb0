'use strict';
// Message queues brokered by the daemon (src/queue, lib/queue.js): real daemons, real consumer
// processes, SIGKILLs of both.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { makeCtx, waitFor, isAlive } = require('./helpers');

const ROOT = path.resolve(__dirname, '..');
const ctx = makeCtx();
process.env.PM_HOME = ctx.home; // the library's queue() finds the daemon through PM_HOME
const { queue, Pool } = require('..');

const children = new Set();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  ctx.cleanup();
});

// A consumer process: consumes QUEUE with CONCURRENCY, prints each job as a JSON line
// ({ id, data, attempts }); acks unless HOLD is set (then it keeps its jobs until killed).
const CONSUMER = ctx.write(
  'consumer.js',
  `
const { queue } = require(${JSON.stringify(ROOT)});
const q = queue(process.env.QUEUE);
(async () => {
  for await (const job of q.consume({ concurrency: Number(process.env.CONCURRENCY || 1) })) {
    process.stdout.write(JSON.stringify({ id: job.id, data: job.data, attempts: job.attempts }) + '\\n');
    if (!process.env.HOLD) await job.ack();
  }
})();
`,
);

function consumerProcess(name, env = {}) {
  const child = spawn(process.execPath, [CONSUMER], { env: { ...ctx.env, QUEUE: name, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.jobs = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      child.jobs.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  return child;
}

/** Takes `n` jobs from an in-process consumer (acking them unless `ack` is false). */
async function take(q, n, { ack = true, concurrency = 16, timeout = 15000 } = {}) {
  const c = q.consume({ concurrency });
  const got = [];
  const timer = setTimeout(() => c.close(), timeout);
  for await (const job of c) {
    got.push(job);
    if (ack) await job.ack();
    if (got.length === n) break;
  }
  clearTimeout(timer);
  assert.equal(got.length, n, `took ${got.length} of ${n} jobs before the deadline`);
  return got;
}

test('FIFO order, priorities first, delays respected', async () => {
  const q = queue('order');
  const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => q.push({ i })));
  assert.equal(new Set(ids).size, 200);
  const got = await take(q, 200, { concurrency: 1 });
  assert.deepEqual(got.map((j) => j.data.i), Array.from({ length: 200 }, (_, i) => i));
  assert.ok(got.every((j) => j.attempts === 1));

  await q.push('low');
  await q.push('high', { priority: 5 });
  const t0 = Date.now();
  await q.push('late', { delay: 300 });
  const [a, b, c] = await take(q, 3, { concurrency: 1 });
  assert.deepEqual([a.data, b.data, c.data], ['high', 'low', 'late']);
  assert.ok(Date.now() - t0 >= 290, `the delayed job came after ${Date.now() - t0} ms`);
  await q.close();
});

test('bad input: invalid names, non-JSON data, oversized payloads, a full queue', async () => {
  for (const bad of ['', 'a b', 'x/y', 'é', 'x'.repeat(129), 42]) {
    assert.throws(() => queue(bad), { code: 'ERR_QUEUE_NAME' }, String(bad));
  }
  const q = queue('bounded', { maxLength: 5, maxPayload: 1000 });
  const circular = {};
  circular.self = circular;
  await assert.rejects(q.push(undefined), { code: 'ERR_QUEUE_DATA' });
  await assert.rejects(q.push(() => 1), { code: 'ERR_QUEUE_DATA' });
  await assert.rejects(q.push(circular), { code: 'ERR_QUEUE_DATA', message: /not JSON-serialisable/ });
  await assert.rejects(q.push(10n), { code: 'ERR_QUEUE_DATA' });
  await assert.rejects(q.push('x'.repeat(1000)), { code: 'ERR_QUEUE_PAYLOAD', message: /over the payload limit of 1000/ });
  await assert.rejects(queue('big').push('x'.repeat(1024 * 1024)), { code: 'ERR_QUEUE_PAYLOAD' }, 'the default limit is 1 MiB');
  await assert.rejects(q.push(1, { priority: 1.5 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(q.push(1, { delay: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  const results = await Promise.allSettled(Array.from({ length: 7 }, (_, i) => q.push(i)));
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
  assert.equal(results[5].reason.code, 'ERR_QUEUE_FULL');
  assert.match(results[5].reason.message, /queue bounded is full: it holds 5 jobs, its maximum length is 5/);
  const s = await q.stats();
  assert.equal(s.ready, 5, 'nothing else was lost or added');
  assert.equal(await q.purge(), 5);
  await q.close();
});

test('two consumer processes share the work, each job once when nothing fails', async () => {
  const name = 'shared';
  const a = consumerProcess(name, { CONCURRENCY: '8' });
  const b = consumerProcess(name, { CONCURRENCY: '8' });
  const q = queue(name);
  await waitFor(async () => (await q.stats()).consumers === 2, { message: 'two consumers' });
  const n = 3000;
  await Promise.all(Array.from({ length: n }, (_, i) => q.push(i)));
  await waitFor(async () => (await q.stats()).acked === n, { timeout: 30000, message: `${n} acks` });
  const all = [...a.jobs, ...b.jobs].map((j) => j.data).sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => i), 'every job exactly once');
  assert.ok(a.jobs.length > n / 10 && b.jobs.length > n / 10, `both worked: ${a.jobs.length} / ${b.jobs.length}`);
  const s = await q.stats();
  assert.equal(s.redelivered, 0);
  a.kill('SIGTERM');
  b.kill('SIGTERM');
  await q.close();
});

test('a consumer SIGKILLed with jobs in hand: they are delivered again at once, none lost', async () => {
  const q = queue('crash');
  await Promise.all(Array.from({ length: 50 }, (_, i) => q.push(i)));
  const holder = consumerProcess('crash', { CONCURRENCY: '10', HOLD: '1' });
  await waitFor(() => holder.jobs.length === 10, { message: 'the holder got 10 jobs' });
  assert.equal((await q.stats()).in_flight, 10);
  holder.kill('SIGKILL');
  // The visibility timeout is 30 s: getting them back now means the daemon saw the death.
  const t0 = Date.now();
  const got = await take(q, 50, { timeout: 10000 });
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(got.map((j) => j.data).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  const held = new Set(holder.jobs.map((j) => j.id));
  for (const j of got) assert.equal(j.attempts, held.has(j.id) ? 2 : 1, `attempts of ${j.id}`);
  await q.close();
});

test('visibility timeout, nack requeue and dead letter', async () => {
  const q = queue('vis', { visibilityTimeout: 200 });
  await q.push('slow');
  const c = q.consume({ concurrency: 1 });
  const first = (await c.next()).value;
  assert.equal(first.attempts, 1);
  const again = (await c.next()).value; // not acked in 200 ms: handed out again
  assert.equal(again.id, first.id);
  assert.equal(again.attempts, 2);
  assert.equal(await again.ack(), true);
  assert.equal(await first.ack(), false, 'acked already: nothing to do');
  await q.push('failing');
  const f1 = (await c.next()).value;
  assert.equal(await f1.nack({ requeue: true }), true);
  const f2 = (await c.next()).value;
  assert.deepEqual([f2.id, f2.data, f2.attempts], [f1.id, 'failing', 2]);
  assert.equal(await f2.nack({ deadLetter: true }), true);
  await c.close();
  const dead = queue('vis.dead');
  const [d] = await take(dead, 1);
  assert.equal(d.data, 'failing');
  assert.equal((await q.stats()).ready, 0);
  await q.close();
  await dead.close();
});

test('daemon SIGKILL with pending jobs: every acknowledged push survives', async () => {
  const q = queue('durable');
  const n = 2000;
  await Promise.all(Array.from({ length: n }, (_, i) => q.push({ i }, { priority: i % 3 })));
  // Some are in flight (held, not acked) when the daemon dies: they must come back too.
  const c = q.consume({ concurrency: 20 });
  await c.next();
  await q.close();
  const pid = Number(fs.readFileSync(path.join(ctx.home, 'pm.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), { message: 'the daemon died' });
  await c.close();
  const q2 = queue('durable'); // starts a new daemon, which reads the journal
  const got = await take(q2, n, { concurrency: 64, timeout: 30000 });
  assert.deepEqual(got.map((j) => j.data.i).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
  assert.equal((await q2.stats()).ready, 0);
  await q2.close();
});

test('a consumer reconnects when the daemon comes back', async () => {
  const q = queue('reconnect');
  const c = q.consume({ concurrency: 4 });
  await q.push('before');
  const a = (await c.next()).value;
  assert.equal(a.data, 'before');
  await a.ack();
  const pid = Number(fs.readFileSync(path.join(ctx.home, 'pm.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), { message: 'the daemon died' });
  await waitFor(async () => (await q.stats()).consumers === 1, { timeout: 15000, message: 'the consumer came back' });
  await q.push('after');
  assert.equal((await c.next()).value.data, 'after');
  await q.close(); // its consumers too
});

test('process() runs jobs concurrently, acks on success, retries then dead-letters on failure', async () => {
  const q = queue('proc');
  let running = 0;
  let peak = 0;
  const done = [];
  const c = q.process(
    async (data) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      if (data === 'poison') throw new Error('bad job');
      done.push(data);
    },
    { concurrency: 4, maxAttempts: 2 },
  );
  await Promise.all([...Array.from({ length: 12 }, (_, i) => q.push(i)), q.push('poison')]);
  await waitFor(async () => done.length === 12 && (await queue('proc.dead').stats()).ready === 1, { message: 'all done, the poison dead-lettered' });
  assert.equal(peak, 4);
  await c.close();
  await c.done;
  await q.close();
});

test('Pool with a queue: its workers take their tasks from the queue', async () => {
  const worker = ctx.write('qworker.js', `require(${JSON.stringify(path.join(ROOT, 'worker.js'))}).handle(async (n) => { require('fs').appendFileSync(process.env.OUT, n + '\\n'); return n * 2; });\n`);
  const out = path.join(ctx.apps, 'pool-out.txt');
  const pool = new Pool(worker, { size: 2, queue: 'pooled', env: { ...ctx.env, OUT: out } });
  const q = queue('pooled');
  await Promise.all(Array.from({ length: 100 }, (_, i) => q.push(i)));
  await waitFor(async () => (await q.stats()).acked === 100, { message: '100 tasks acked' });
  const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map(Number).sort((x, y) => x - y);
  assert.deepEqual(lines, Array.from({ length: 100 }, (_, i) => i));
  await pool.close();
  await q.close();
});

test('pm queue ls | stats | peek | purge', async () => {
  const q = queue('cli.jobs');
  await q.push({ file: 'a.png' });
  await q.push({ file: 'b.png' }, { priority: 2 });
  const ls = ctx.ok(['queue', 'ls']).stdout;
  assert.match(ls, /cli\.jobs/);
  assert.match(ls, /ready/);
  const stats = JSON.parse(ctx.ok(['queue', 'stats', '--json']).stdout);
  const mine = stats.find((s) => s.name === 'cli.jobs');
  assert.equal(mine.ready, 2);
  const peek = ctx.ok(['queue', 'peek', 'cli.jobs']).stdout;
  assert.ok(peek.indexOf('b.png') >= 0 && peek.indexOf('b.png') < peek.indexOf('a.png'), peek);
  assert.match(ctx.ok(['queue', 'purge', 'cli.jobs']).stdout, /2 jobs/);
  assert.equal((await q.stats()).ready, 0);
  const bad = ctx.pm(['queue', 'peek', 'no way']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /invalid queue name/);
  await q.close();
});
