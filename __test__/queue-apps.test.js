'use strict';
// Ecosystem apps that consume a queue (`queue: { name, concurrency }`): real daemons, real
// consumer instances started by it, `pm scale` and `pm reload` while jobs are in hand.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor } = require('./helpers');
const { startRedis } = require('./redis-helpers');

const ROOT = path.resolve(__dirname, '..');
const ctx = makeCtx();
process.env.PM_HOME = ctx.home; // the library's queue() finds the daemon through PM_HOME
const { queue } = require('..');
after(() => ctx.cleanup());

// A consumer app: logs "start <i> <pid> <ms>" and "end <i> <pid> <ms>" around WORK_MS of work.
const WORKER = ctx.write(
  'consumer-app.js',
  `
const fs = require('fs');
const log = (what, i) => fs.appendFileSync(process.env.OUT, what + ' ' + i + ' ' + process.pid + ' ' + Date.now() + '\\n');
require(${JSON.stringify(path.join(ROOT, 'worker.js'))}).handle(async (data) => {
  log('start', data.i);
  await new Promise((r) => setTimeout(r, Number(process.env.WORK_MS)));
  log('end', data.i);
});
`,
);

function ecosystem(file, app) {
  return ctx.write(file, `module.exports = { apps: [${JSON.stringify({ script: WORKER, ...app })}] };`);
}

function readLog(out) {
  const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [what, i, pid, t] = l.split(' ');
      return { what, i: Number(i), pid: Number(pid), t: Number(t) };
    });
}

/** Every job of 0..n-1 ended exactly once, and every start has its end. */
function assertEachOnce(out, n) {
  const log = readLog(out);
  const ends = log.filter((e) => e.what === 'end').map((e) => e.i);
  const starts = log.filter((e) => e.what === 'start').map((e) => e.i);
  assert.deepEqual([...ends].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'each job ran to its end exactly once');
  assert.deepEqual([...starts].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'no job was started twice');
  return log;
}

/**
 * Starts `instances` consumer instances of app `name` on `queueOptions` (work of `workMs` each)
 * and waits until each consumes. Returns the producer's queue handle and the app's job log.
 */
async function startConsumers(name, { instances, queue: queueOptions, workMs }) {
  const out = path.join(ctx.apps, `${name}.log`);
  ctx.ok(['start', ecosystem(`${name}.config.js`, { name, instances, queue: queueOptions, env: { OUT: out, WORK_MS: workMs } })]);
  const q = queue(queueOptions.name, queueOptions.redis ? { redis: queueOptions.redis } : {});
  await waitFor(async () => (await q.stats()).consumers === instances, { message: `${instances} consumers of ${name}` });
  return { q, out };
}

test('consumer instances share a queue, scale up and down, each job once', async () => {
  const { q, out } = await startConsumers('scaler', { instances: 2, queue: { name: 'scale', concurrency: 2 }, workMs: 20 });
  await Promise.all(Array.from({ length: 60 }, (_, i) => q.push({ i })));
  await waitFor(async () => (await q.stats()).acked === 60, { timeout: 20000, message: '60 acked' });
  const log = assertEachOnce(out, 60);
  assert.equal(new Set(log.map((e) => e.pid)).size, 2, 'both instances took jobs');

  ctx.ok(['scale', 'scaler', '4']);
  await waitFor(async () => (await q.stats()).consumers === 4, { message: '4 consumers after scale up' });
  // Scale down while jobs are in hand: the instances that go finish theirs first.
  await Promise.all(Array.from({ length: 40 }, (_, i) => q.push({ i: 60 + i })));
  await waitFor(async () => (await q.stats()).acked > 62, { message: 'work under way' });
  ctx.ok(['scale', 'scaler', '1']);
  await waitFor(async () => (await q.stats()).acked === 100, { timeout: 20000, message: '100 acked' });
  assertEachOnce(out, 100);
  const s = await q.stats();
  assert.equal(s.consumers, 1);
  assert.equal(s.redelivered, 0, 'nothing came back from an instance that was stopped');
  assert.match(ctx.ok(['describe', 'scaler']).stdout, /queue depth +│ 0 ready, 0 delayed, 0 in flight/);
  ctx.ok(['delete', 'scaler']);
  await q.close();
});

test('a reload finishes the jobs in hand before the old instances stop: none lost, none twice', async () => {
  const { q, out } = await startConsumers('reloader', { instances: 2, queue: { name: 'reload', concurrency: 3 }, workMs: 400 });
  const before = ctx.procs('reloader').map((p) => p.pid);
  await Promise.all(Array.from({ length: 30 }, (_, i) => q.push({ i })));
  await waitFor(() => readLog(out).some((e) => e.what === 'start'), { message: 'jobs started' });
  const t0 = Date.now();
  const r = ctx.ok(['reload', 'reloader']);
  assert.match(r.stdout, /\[reloader\]\(0\) ✓/);
  await waitFor(async () => (await q.stats()).acked === 30, { timeout: 30000, message: '30 acked' });
  const log = assertEachOnce(out, 30);
  assert.ok(
    log.some((e) => e.what === 'end' && before.includes(e.pid) && e.t > t0),
    'an old instance finished a job after the reload began (it drained instead of dying)',
  );
  const after = ctx.procs('reloader').map((p) => p.pid);
  assert.equal(after.filter((p) => before.includes(p)).length, 0, 'both instances were replaced');
  assert.equal((await q.stats()).redelivered, 0);
  ctx.ok(['delete', 'reloader']);
  await q.close();
});

test('a bad queue: in an ecosystem entry is one line naming it, and nothing running is lost', async () => {
  ctx.ok(['start', ctx.app('idle.js'), '--name', 'bystander']);
  const bystander = (await ctx.online('bystander'))[0].pid;
  for (const [q, why] of [
    [{ name: 'no spaces' }, /queue: invalid queue name/],
    [{ name: 'q', concurency: 2 }, /queue: unknown option concurency/],
    [{ name: 'q', concurrency: 0 }, /queue: concurrency must be/],
    [{ concurrency: 2 }, /queue: needs a name/],
  ]) {
    const r = ctx.pm(['start', ecosystem('bad.config.js', { name: 'bad', queue: q })]);
    assert.notEqual(r.status, 0, JSON.stringify(q));
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(ctx.procs('bad').length, 0);
  assert.equal(ctx.procs('bystander')[0].pid, bystander);
  ctx.ok(['delete', 'bystander']);
});

test('a consumer app on Redis reloads without losing or repeating a job', async () => {
  const redis = await startRedis();
  const { q, out } = await startConsumers('redis-consumer', { instances: 2, queue: { name: 'rjobs', concurrency: 2, redis: redis.url }, workMs: 300 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => q.push({ i })));
  await waitFor(() => readLog(out).some((e) => e.what === 'start'), { message: 'jobs started' });
  ctx.ok(['reload', 'redis-consumer']);
  await waitFor(() => readLog(out).filter((e) => e.what === 'end').length >= 20, { timeout: 30000, message: '20 jobs done' });
  await waitFor(async () => {
    const s = await q.stats();
    return s.ready === 0 && s.in_flight === 0;
  }, { message: 'Redis queue empty' });
  assertEachOnce(out, 20);
  assert.match(ctx.ok(['describe', 'redis-consumer']).stdout, /queue +│ rjobs \(concurrency 2, on Redis\)/);
  ctx.ok(['delete', 'redis-consumer']);
  await q.close();
  await redis.stop();
});
