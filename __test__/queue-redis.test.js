'use strict';
// The Redis transport of queue(): each test runs its own redis-server (redis-helpers.js).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { waitFor, isAlive } = require('./helpers');

const ROOT = path.resolve(__dirname, '..');
const { queue } = require('..');
const Redis = require('ioredis');

const { tmp, started, freePort, startRedis } = require('./redis-helpers');

const CONSUMER = path.join(tmp, 'consumer.js');
fs.writeFileSync(
  CONSUMER,
  `
const { queue } = require(${JSON.stringify(ROOT)});
const q = queue(process.env.QUEUE, { redis: process.env.REDIS_URL, mode: process.env.MODE || undefined });
(async () => {
  for await (const job of q.consume({ concurrency: Number(process.env.CONCURRENCY || 1) })) {
    process.stdout.write(JSON.stringify({ id: job.id, data: job.data, attempts: job.attempts }) + '\\n');
    if (!process.env.HOLD) await job.ack();
  }
})();
`,
);

function consumerProcess(env) {
  const e = { ...process.env, ...env };
  delete e.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [CONSUMER], { env: e, stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child);
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

async function take(q, n, { ack = true, concurrency = 16, timeout = 20000 } = {}) {
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

const range = (n) => Array.from({ length: n }, (_, i) => i);
const sorted = (a) => [...a].sort((x, y) => x - y);

test('FIFO order, delays, the bounded-queue error, bad input', async () => {
  const r = await startRedis();
  const q = queue('order', { redis: r.url, maxLength: 300 });
  for (const i of range(200)) await q.push({ i });
  const got = await take(q, 200, { concurrency: 1 });
  assert.deepEqual(got.map((j) => j.data.i), range(200));
  const t0 = Date.now();
  await q.push('late', { delay: 300 });
  await q.push('now');
  const [a, b] = await take(q, 2, { concurrency: 1 });
  assert.deepEqual([a.data, b.data], ['now', 'late']);
  assert.ok(Date.now() - t0 >= 290);

  const small = queue('small', { redis: r.url, maxLength: 3 });
  const res = await Promise.allSettled(range(5).map((i) => small.push(i)));
  assert.equal(res.filter((x) => x.status === 'fulfilled').length, 3);
  const bad = res.find((x) => x.status === 'rejected').reason;
  assert.equal(bad.code, 'ERR_QUEUE_FULL');
  assert.match(bad.message, /queue small is full/);
  await assert.rejects(small.push(undefined), { code: 'ERR_QUEUE_DATA' });
  await assert.rejects(small.push('x'.repeat(1024 * 1024 + 1)), { code: 'ERR_QUEUE_PAYLOAD' });
  assert.throws(() => queue('a b', { redis: r.url }), { code: 'ERR_QUEUE_NAME' });
  await q.close();
  await small.close();
  await r.stop();
});

test('an unreachable Redis is a clear error within the connect timeout', async () => {
  const port = await freePort();
  const q = queue('nowhere', { redis: `redis://127.0.0.1:${port}`, connectTimeout: 500 });
  const t0 = Date.now();
  await assert.rejects(q.push(1), { code: 'ERR_QUEUE_REDIS', message: new RegExp(`cannot reach Redis at redis://127.0.0.1:${port} within 500 ms`) });
  assert.ok(Date.now() - t0 < 2000, `failed after ${Date.now() - t0} ms`);
  await q.close();
});

test('two consumer processes share the work, no duplicates; a SIGKILLed one loses nothing', async () => {
  const r = await startRedis();
  const env = { QUEUE: 'shared', REDIS_URL: r.url, CONCURRENCY: '8' };
  const a = consumerProcess(env);
  const b = consumerProcess(env);
  const q = queue('shared', { redis: r.url });
  await waitFor(async () => (await q.stats()).consumers === 2, { message: 'two consumers' });
  const n = 2000;
  await Promise.all(range(n).map((i) => q.push(i)));
  await waitFor(() => a.jobs.length + b.jobs.length === n, { timeout: 30000, message: `${n} jobs consumed` });
  await waitFor(async () => (await q.stats()).in_flight === 0, { message: 'all acked' });
  assert.deepEqual(sorted([...a.jobs, ...b.jobs].map((j) => j.data)), range(n), 'each job exactly once');
  assert.ok(a.jobs.length > n / 10 && b.jobs.length > n / 10, `both worked: ${a.jobs.length} / ${b.jobs.length}`);
  a.kill('SIGKILL');
  b.kill('SIGKILL');

  // A consumer dies holding jobs: they come back once its heartbeat expires.
  await Promise.all(range(30).map((i) => q.push(i)));
  const holder = consumerProcess({ ...env, CONCURRENCY: '10', HOLD: '1' });
  await waitFor(() => holder.jobs.length === 10, { message: 'the holder got 10 jobs' });
  holder.kill('SIGKILL');
  const got = await take(q, 30, { timeout: 20000 });
  assert.deepEqual(sorted(got.map((j) => j.data)), range(30));
  const held = new Set(holder.jobs.map((j) => j.id));
  // (A job may also have reached a killed a/b before Redis saw its connection close: it
  // comes back the same way, so only the holder's are sure to be second attempts.)
  for (const j of got) if (held.has(j.id)) assert.equal(j.attempts, 2, `attempts of ${j.id}`);
  await q.close();
  await r.stop();
});

test("mode 'list': a plain LPUSH producer feeds a consumer; nack requeues and dead-letters", async () => {
  const r = await startRedis();
  const plain = new Redis(r.url);
  for (const i of range(50)) await plain.lpush('plain', JSON.stringify({ n: i }));
  const q = queue('plain', { redis: r.url, mode: 'list' });
  const got = await take(q, 50, { concurrency: 4 });
  assert.deepEqual(sorted(got.map((j) => j.data.n)), range(50));
  assert.equal(await plain.llen('plain'), 0);

  await plain.lpush('plain', '"again"');
  const c = q.consume({ concurrency: 1 });
  const first = (await c.next()).value;
  assert.equal(await first.nack({ requeue: true }), true);
  const second = (await c.next()).value;
  assert.equal(second.data, 'again');
  assert.equal(await second.nack({ deadLetter: true }), true);
  await c.close();
  assert.deepEqual(await plain.lrange('plain.dead', 0, -1), ['"again"']);
  plain.disconnect();
  await q.close();
  await r.stop();
});

test('Redis restarted mid-run: producer and consumer carry on, nothing twice', async () => {
  const r = await startRedis();
  const q = queue('restart', { redis: r.url, connectTimeout: 5000 });
  const seen = [];
  const c = q.process((d) => seen.push(d), { concurrency: 4 });
  for (const i of range(100)) await q.push(i);
  await waitFor(() => seen.length === 100, { message: 'the first 100' });
  await r.stop();
  // Pushes while Redis is down wait for it (up to the connect timeout)...
  const during = q.push(100);
  const again = await startRedis(r.port);
  await during;
  for (const i of range(99)) await q.push(101 + i);
  await waitFor(() => seen.length === 200, { timeout: 20000, message: `200 jobs, got ${seen.length}` });
  assert.deepEqual(sorted(seen), range(200), 'each job once');
  await c.close();
  await q.close();
  await again.stop();
  assert.ok(!isAlive(again.child.pid) || again.child.exitCode !== null || again.child.signalCode !== null);
});
