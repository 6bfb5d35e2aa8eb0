'use strict';
// Cluster mode: the daemon is Node's cluster primary, so an unmodified HTTP server started with
// `-i 2` runs as two workers sharing one listening socket.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { makeCtx, waitFor, isAlive } = require('./helpers');
const { freePort, get, seenAll, loadLoop } = require('./http-helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const SERVER = `
const http = require('http');
const cluster = require('cluster');
http.createServer((req, res) => {
  res.setHeader('connection', 'close');
  res.end(JSON.stringify({ pid: process.pid, isWorker: cluster.isWorker, id: cluster.worker && cluster.worker.id,
    instance: process.env.NODE_APP_INSTANCE }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

test('-i 2: two cluster workers share the port, both serve, instances 0 and 1', async () => {
  const port = await freePort();
  ctx.write('server.js', SERVER);
  ctx.ok(['start', 'server.js', '-i', '2', '--name', 'web'], { env: { PORT: String(port) } });
  const procs = await ctx.online('web', { count: 2 });
  assert.deepEqual(procs.map((p) => p.pm2_env.exec_mode), ['cluster_mode', 'cluster_mode']);
  const pids = procs.map((p) => p.pid);
  await waitFor(async () => get(port).then(() => true, () => false), { message: 'port answering' });
  const seen = await seenAll(port, pids);
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), 'both workers answered');
  for (const r of seen.values()) {
    assert.equal(r.isWorker, true);
    assert.ok(Number.isInteger(r.id) && r.id >= 1);
  }
  assert.deepEqual([...seen.values()].map((r) => r.instance).sort(), ['0', '1']);
});

test('a crashed worker is replaced while the other keeps serving', async () => {
  const procs = await ctx.online('web', { count: 2 });
  const [victim, survivor] = procs;
  const port = await (async () => {
    for (const p of procs) if (p.pm2_env.PORT) return Number(p.pm2_env.PORT);
    throw new Error('no PORT in pm2_env');
  })();
  process.kill(victim.pid, 'SIGKILL');
  // The survivor answers throughout: the listening socket belongs to the daemon.
  for (let i = 0; i < 20; i++) assert.equal((await get(port)).pid === victim.pid, false);
  await waitFor(() => {
    const now = ctx.procs('web').find((p) => p.pm_id === victim.pm_id);
    return now && now.pid && now.pid !== victim.pid && now.pm2_env.status === 'online';
  }, { message: 'replacement online' });
  const again = ctx.procs('web');
  assert.ok(isAlive(survivor.pid));
  const seen = await seenAll(port, again.map((p) => p.pid));
  assert.equal(seen.size, 2, 'the replacement serves too');
});

test('rolling reload under load: 5 reloads, no failed request, every pid replaced', async () => {
  const before = await ctx.online('web', { count: 2 });
  const port = Number(before[0].pm2_env.PORT);
  const load = loadLoop(port);
  let pids = before.map((p) => p.pid);
  for (let i = 0; i < 5; i++) {
    const r = await ctx.pmAsync(['reload', 'web']);
    assert.equal(r.status, 0, r.stderr);
    const now = ctx.procs('web');
    assert.equal(now.length, 2);
    for (const p of now) assert.ok(!pids.includes(p.pid), `instance ${p.pm_id} got a new pid`);
    pids = now.map((p) => p.pid);
  }
  await load.stop();
  assert.ok(load.stats.ok > 100, `only ${load.stats.ok} requests went through`);
  assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.errors.slice(0, 5).join(', ')}`);
});

test('scale up and down leaves the running workers alone', async () => {
  const before = await ctx.online('web', { count: 2 });
  const port = Number(before[0].pm2_env.PORT);
  ctx.ok(['scale', 'web', '4']);
  const four = await ctx.online('web', { count: 4 });
  assert.deepEqual(four.map((p) => p.pm2_env.NODE_APP_INSTANCE).sort(), [0, 1, 2, 3]);
  for (const p of before) assert.ok(four.some((q) => q.pid === p.pid), 'old workers untouched');
  const seen = await seenAll(port, four.map((p) => p.pid), 2000);
  assert.equal(seen.size, 4, 'all four serve');
  ctx.ok(['scale', 'web', '-2']);
  const two = ctx.procs('web');
  // pm2 removes the oldest (its e2e increment-var.sh); the next scale-up reuses their numbers.
  assert.deepEqual(
    two.map((p) => p.pid).sort(),
    four.filter((p) => !before.some((b) => b.pid === p.pid)).map((p) => p.pid).sort(),
    'the oldest were removed',
  );
  assert.deepEqual(two.map((p) => p.pm2_env.NODE_APP_INSTANCE).sort(), [2, 3]);
  ctx.ok(['scale', 'web', '3']);
  const three = await ctx.online('web', { count: 3 });
  assert.deepEqual(three.map((p) => p.pm2_env.NODE_APP_INSTANCE).sort(), [0, 2, 3], 'the lowest free number again');
  ctx.ok(['scale', 'web', '2']);
  assert.deepEqual(ctx.procs('web').map((p) => p.pm2_env.NODE_APP_INSTANCE).sort(), [0, 3]);
  const bad = ctx.pm(['scale', 'web', 'lots']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /scale takes a number/);
  // Bounded as -i is, and refused at once: nothing starts, the daemon keeps answering.
  for (const [count, want] of [['99999', 99999], ['+99999', 100001]]) {
    const big = ctx.pm(['scale', 'web', count]);
    assert.equal(big.status, 1);
    assert.equal(big.stderr, `[PM2][ERROR] cannot scale web: instances must be at most 4096, got ${want}\n`);
  }
  assert.equal(ctx.procs('web').length, 2, 'still two instances');
});

test('-i max and --workload pick the instance count from the cores', async () => {
  const cores = require('node:os').availableParallelism();
  ctx.write('idle.js', 'setInterval(() => {}, 1000);\n');
  ctx.ok(['start', 'idle.js', '--name', 'imax', '-i', 'max']);
  assert.equal((await ctx.online('imax', { count: cores })).length, cores);
  ctx.ok(['start', 'idle.js', '--name', 'wio', '--workload', 'io', '-f']);
  assert.equal((await ctx.online('wio', { count: cores * 2 })).length, cores * 2);
  ctx.ok(['start', 'idle.js', '--name', 'wmix', '--workload', 'mixed', '-f']);
  assert.equal((await ctx.online('wmix', { count: Math.round(cores * 1.5) })).length, Math.round(cores * 1.5));
  ctx.ok(['delete', 'imax', 'wio', 'wmix']);
});

test('wait_ready: launching until process.send("ready"); listen_timeout bounds an app that never says so', async () => {
  ctx.write('ready.js', "setTimeout(() => process.send('ready'), 600); setInterval(() => {}, 1000);\n");
  ctx.write('mute.js', 'setInterval(() => {}, 1000);\n');
  const t0 = Date.now();
  ctx.ok(['start', 'ready.js', '--wait-ready', '--listen-timeout', '10000']);
  const early = ctx.procs('ready')[0];
  if (Date.now() - t0 < 400) assert.equal(early.pm2_env.status, 'launching');
  await waitFor(() => ctx.procs('ready')[0].pm2_env.status === 'online', { message: 'ready → online' });
  assert.ok(Date.now() - t0 >= 550, 'online only after the ready message');
  const t1 = Date.now();
  ctx.ok(['start', 'mute.js', '--wait-ready', '--listen-timeout', '800']);
  await waitFor(() => ctx.procs('mute')[0].pm2_env.status === 'online', { message: 'listen_timeout → online' });
  const took = Date.now() - t1;
  assert.ok(took >= 700 && took < 5000, `listen_timeout of 800 ms took ${took} ms`);
  ctx.ok(['delete', 'ready', 'mute']);
});

test('reload of a cluster worker that never listens finishes after listen_timeout', async () => {
  ctx.write('deaf.js', 'setInterval(() => {}, 1000);\n');
  ctx.ok(['start', 'deaf.js', '-i', '1', '--listen-timeout', '700']);
  const [before] = await ctx.online('deaf');
  const t0 = Date.now();
  const r = await ctx.pmAsync(['reload', 'deaf']);
  const took = Date.now() - t0;
  assert.equal(r.status, 0, r.stderr);
  assert.ok(took >= 600 && took < 6000, `reload took ${took} ms`);
  const [after] = await ctx.online('deaf');
  assert.notEqual(after.pid, before.pid);
  assert.equal(isAlive(before.pid), false, 'the old worker is gone');
  ctx.ok(['delete', 'deaf']);
});
