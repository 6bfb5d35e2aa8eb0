'use strict';
// fork(): a Node child spawned and supervised by the addon, its IPC channel in Rust. Real
// processes, unchanged worker scripts (plain process.on('message') / process.send).

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { fork } = require('..');
const { isAlive, waitFor } = require('./helpers');
const { ROOT, once, messages, fixtures } = require('./library-helpers');

const fx = fixtures({
  'echo.js': "process.on('message', (m) => process.send(m));\n",
  // Echoes with its pid; exits with the code it is sent as { exit: n }.
  'crashy.js': `
process.on('message', (m) => {
  if (m && m.exit !== undefined) process.exit(m.exit);
  process.send({ pid: process.pid, m });
});
process.send({ up: process.pid });
`,
  // Starts a grandchild that ignores SIGINT, reports both pids, then idles.
  'tree.js': `
const { spawn } = require('child_process');
// The grandchild says so once it ignores SIGINT: reported earlier, a stop could beat its handler.
const g = spawn(process.execPath, ['-e', "process.on('SIGINT', () => {}); process.stdout.write('ready'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
g.stdout.once('data', () => process.send({ child: process.pid, grandchild: g.pid }));
setInterval(() => {}, 1000);
`,
  'loud.js': "process.stdout.write('to stdout\\n'); process.stderr.write('to stderr\\n');\n",
  'bye.js': "process.on('message', () => {}); process.on('disconnect', () => process.exit(0)); process.send('up');\n",
  'dies.js': 'process.exit(7);\n',
  // Busy (not reading) for a while after saying hello, then counts what it got.
  'slow.js': `
let n = 0;
process.on('message', (m) => { n++; if (m === 'count?') process.send(n); });
process.send('up');
const end = Date.now() + 400;
while (Date.now() < end) {}
`,
});
after(() => fx.cleanup());

const start = (name, args, opts) => fx.track(fork(fx.file(name), args, { env: fx.env, ...opts }));

test('echo round trip: the message comes back unchanged, send() returns true', async () => {
  const w = start('echo.js');
  assert.ok(w.pid > 0, 'pid is known at once');
  const msg = { s: 'héllo "q" \\ \n \u2028 end', n: -1.5e-7, a: [1, null, true, 'x'], o: { deep: { e: {} } } };
  let called = 0;
  assert.equal(
    w.send(msg, (err) => {
      assert.equal(err, null);
      called++;
    }),
    true,
  );
  const [back] = await once(w, 'message');
  assert.deepEqual(back, msg);
  assert.equal(called, 1, 'the send callback ran once');
  assert.equal(w.connected, true);
  const exit = await w.stop();
  assert.deepEqual(exit, { code: null, signal: 'SIGINT' });
  assert.equal(w.connected, false);
});

test('10,000 messages arrive in order, none lost, both ways', async () => {
  const w = start('echo.js');
  const got = messages(w, 10000);
  for (let i = 0; i < 10000; i++) w.send({ i, pad: 'p'.repeat(i % 50) });
  const all = await got;
  all.forEach((m, i) => assert.equal(m.i, i));
  await w.stop();
});

test('a 1 MB message goes and comes back whole', async () => {
  const w = start('echo.js');
  const big = { data: 'x'.repeat(1 << 20), tail: 'é'.repeat(1000) };
  const sent = new Promise((resolve) => w.send(big, resolve));
  const [back] = await once(w, 'message');
  assert.equal(await sent, null);
  assert.equal(back.data.length, 1 << 20);
  assert.deepEqual(back, big);
  await w.stop();
});

test('backpressure: send() returns false once the child lags, callbacks fire after the writes', async () => {
  const w = start('slow.js');
  await once(w, 'message');
  const big = { data: 'z'.repeat(64 * 1024) };
  const done = [];
  let sent = 0;
  let full = false;
  while (!full && sent < 1000) {
    sent++;
    full = !w.send(big, (err) => done.push(err));
  }
  assert.ok(full, `send() said slow down (after ${sent} messages)`);
  assert.ok(done.length < sent, 'not every callback has run yet');
  w.send('count?');
  const [[count]] = [await once(w, 'message')];
  assert.equal(count, sent + 1, 'everything arrived once the child read again');
  await waitFor(() => done.length === sent, { message: 'every send callback' });
  assert.ok(done.every((e) => e === null));
  await w.stop();
});

test('crash → restart → messaging resumes; messages sent meanwhile reach the new child', async () => {
  const w = start('crashy.js', [], { restart: 'on-failure', restartDelay: 300 });
  const [[first]] = [await once(w, 'message')];
  const oldPid = first.up;
  w.send({ exit: 3 });
  const [code, signal, info] = await once(w, 'restart');
  assert.equal(code, 3);
  assert.equal(signal, null);
  assert.equal(info.restarts, 1);
  assert.equal(w.connected, true, 'still connected while it restarts');
  // Sent during the 300 ms restart delay: queued, then delivered to the new child, in order.
  const queued = [];
  for (let i = 0; i < 5; i++) queued.push(new Promise((resolve) => w.send({ i }, resolve)));
  const got = await messages(w, 6);
  assert.ok(got[0].up && got[0].up !== oldPid, 'a new child said hello');
  assert.deepEqual(got.slice(1).map((r) => r.m.i), [0, 1, 2, 3, 4]);
  assert.ok(got.slice(1).every((r) => r.pid === got[0].up));
  assert.deepEqual(await Promise.all(queued), [null, null, null, null, null]);
  assert.equal(w.restarts, 1);
  assert.ok(!isAlive(oldPid));
  await w.stop();
});

test('the restart queue is bounded: beyond maxQueue, send fails with ERR_IPC_QUEUE_FULL', async () => {
  const w = start('crashy.js', [], { restart: 'always', restartDelay: 400, maxQueue: 2 });
  await once(w, 'message');
  w.send({ exit: 0 });
  await once(w, 'restart');
  const results = await Promise.all([0, 1, 2].map((i) => new Promise((resolve) => w.send({ i }, resolve))));
  assert.equal(results[0], null);
  assert.equal(results[1], null);
  assert.equal(results[2].code, 'ERR_IPC_QUEUE_FULL');
  const got = await messages(w, 3);
  assert.deepEqual(got.slice(1).map((r) => r.m.i), [0, 1]);
  await w.stop();
});

test("restart: 'never' (the default) behaves like child_process: one exit, then the channel is closed", async () => {
  const w = start('crashy.js');
  await once(w, 'message');
  const disconnected = once(w, 'disconnect');
  w.send({ exit: 5 });
  const [code, signal] = await once(w, 'exit');
  await disconnected;
  assert.equal(code, 5);
  assert.equal(signal, null);
  assert.equal(w.exitCode, 5);
  assert.equal(w.connected, false);
  const err = await new Promise((resolve) => w.send('late', resolve));
  assert.equal(err.code, 'ERR_IPC_CHANNEL_CLOSED');
});

test('a child that keeps failing is given up after maxRestarts unstable restarts', async () => {
  const w = start('dies.js', [], { restart: 'on-failure', maxRestarts: 2 });
  let restarts = 0;
  w.on('restart', () => restarts++);
  const [code] = await once(w, 'exit');
  assert.equal(code, 7);
  assert.equal(restarts, 1, 'two unstable exits in a row: one restart, then errored');
});

test('stop() kills the whole tree, SIGKILL for a grandchild that ignores SIGINT', async () => {
  const w = start('tree.js', [], { killTimeout: 400 });
  const [{ child, grandchild }] = await once(w, 'message');
  fx.trackPid(grandchild);
  assert.ok(isAlive(child) && isAlive(grandchild));
  const t0 = Date.now();
  await w.stop();
  assert.ok(!isAlive(child), 'the child is gone');
  assert.ok(!isAlive(grandchild), 'the grandchild is gone');
  assert.ok(Date.now() - t0 >= 350, 'the grandchild was given killTimeout before SIGKILL');
});

test('silent: true gives stdout and stderr streams', async () => {
  const w = start('loud.js', [], { silent: true });
  let out = '';
  let err = '';
  w.stdout.on('data', (d) => (out += d));
  w.stderr.on('data', (d) => (err += d));
  await once(w, 'exit');
  await waitFor(() => out && err, { message: 'stdio' });
  assert.equal(out, 'to stdout\n');
  assert.equal(err, 'to stderr\n');
});

test('disconnect() closes the channel: the child sees it and exits; no restart follows', async () => {
  const w = start('bye.js', [], { restart: 'always' });
  await once(w, 'message');
  const gone = once(w, 'exit');
  w.disconnect();
  await once(w, 'disconnect');
  assert.equal(w.connected, false);
  const [code] = await gone;
  assert.equal(code, 0);
});

test('kill(signal) signals the child; exit reports the signal', async () => {
  const w = start('echo.js');
  assert.equal(w.kill('SIGTERM'), true);
  const [code, signal] = await once(w, 'exit');
  assert.equal(code, null);
  assert.equal(signal, 'SIGTERM');
  assert.equal(w.kill(), false, 'nothing left to signal');
});

test('a missing execPath is an error event (ENOENT), as with child_process', async () => {
  const w = fork(fx.file('echo.js'), [], { execPath: '/nonexistent/node', env: fx.env });
  const [err] = await once(w, 'error');
  assert.equal(err.code, 'ENOENT');
  assert.equal(w.connected, false);
  assert.equal(w.send('x', () => {}), false);
});

test('bad options throw at once', () => {
  assert.throws(() => fork(fx.file('echo.js'), { restart: 'sometimes' }), /restart must be/);
  assert.throws(() => fork(fx.file('echo.js'), { serialization: 'advanced' }), /serialization/);
  assert.throws(() => fork(fx.file('echo.js'), { killSignal: 'SIGNOPE' }), /unknown signal/);
});

test('the tokio reader (hosts without libuv symbols) passes the same echo and ordering checks', () => {
  const script = `
const { fork } = require(${JSON.stringify(ROOT)});
const w = fork(${JSON.stringify(fx.file('echo.js'))});
const N = 5000;
let n = 0;
w.on('message', (m) => {
  if (m.big) { console.log('ok', n, m.big.length); w.stop(); return; }
  if (m.i !== n) { console.error('out of order', m.i, n); process.exit(1); }
  if (++n === N) w.send({ big: 'y'.repeat(300000) });
});
for (let i = 0; i < N; i++) w.send({ i });
`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...fx.env, PM_NATIVE_IPC_READER: 'tokio' },
    encoding: 'utf8',
    timeout: 30000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ok 5000 300000\n');
});

test('unref() lets the parent exit while the child runs; the child then sees disconnect', () => {
  const script = `
const { fork } = require(${JSON.stringify(ROOT)});
const w = fork(${JSON.stringify(fx.file('bye.js'))});
w.on('message', () => { console.log(w.pid); w.unref(); });
`;
  const r = spawnSync(process.execPath, ['-e', script], { env: fx.env, encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  const pid = Number(r.stdout.trim());
  fx.trackPid(pid);
  return waitFor(() => !isAlive(pid), { message: `orphaned child ${pid} to exit on disconnect` });
});
