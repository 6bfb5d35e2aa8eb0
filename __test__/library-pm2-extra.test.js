'use strict';
// The rest of pm2's programmatic API over the pm-native daemon, with pm2's callback shapes:
// ping, scale, sendLineToStdin, getProcessIdByName, getPID, trigger, get/set, clearDump,
// resurrect, startup, update, connect(noDaemon), and the bus events pm2:kill,
// process:exception, log:out / log:err.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { PM2 } = require('..');
const { makeCtx, waitFor } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());
const pm2 = new PM2({ pm2_home: ctx.home });

ctx.write(
  'echo-stdin.js',
  `process.stdin.setEncoding('utf8');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    console.log('got:' + JSON.stringify(buf.slice(0, i)));
    buf = buf.slice(i + 1);
  }
});
console.log('stdin reader up');
`,
);
ctx.write(
  'thrower.js',
  `const e = new Error('boom from the app');
e.code = 'E_BOOM';
setTimeout(() => { throw e; }, 50);
setInterval(() => {}, 1 << 30);
`,
);

/** Calls `fn(cb)` and resolves with the callback's arguments. */
function cb(fn) {
  return new Promise((resolve) => fn((...args) => resolve(args)));
}

test('ping answers { msg: "pong" } in callback and promise form', async () => {
  const [err, res] = await cb((done) => pm2.ping(done));
  assert.equal(err, null);
  assert.deepEqual(res, { msg: 'pong' });
  assert.deepEqual(await pm2.ping(), { msg: 'pong' });
});

test('connect(true): warns once that noDaemon is not supported, and still connects', async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const [err, meta] = await cb((done) => pm2.connect(true, done));
    assert.equal(err, null);
    assert.equal(typeof meta.new_pm2_instance, 'boolean');
    await cb((done) => pm2.connect(true, done));
    await cb((done) => pm2.connect(done));
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  const ours = warnings.filter((w) => w.code === 'PM_NATIVE_NO_DAEMON');
  assert.equal(ours.length, 1, 'one warning for two connect(true) calls');
  assert.match(ours[0].message, /noDaemon/);
});

test('getProcessIdByName / getPID: ids with details by name or script path, pids by name or all', async () => {
  const procs = await pm2.start({ script: ctx.app('idle.js'), name: 'ids', instances: 2 });
  for (const p of procs) ctx.track(p.pid);
  const [err, ids, details] = await cb((done) => pm2.getProcessIdByName('ids', done));
  assert.equal(err, null);
  assert.deepEqual(ids, procs.map((p) => p.pm_id).sort((a, b) => a - b));
  assert.equal(details[ids[0]].name, 'ids');
  assert.deepEqual(await pm2.getProcessIdByName(ctx.app('idle.js')), ids);
  assert.deepEqual(await pm2.getProcessIdByName('nope'), []);

  const list = await pm2.list();
  const [err2, pids] = await cb((done) => pm2.getPID('ids', done));
  assert.equal(err2, null);
  assert.deepEqual(pids.sort(), list.filter((p) => p.name === 'ids').map((p) => p.pid).sort());
  assert.ok(pids.every((pid) => Number.isInteger(pid) && pid > 0));
  const [, all] = await cb((done) => pm2.getPID(done));
  assert.equal(all.length, list.length);
  await pm2.delete('ids');
});

test("scale: N, '+N', '-N', and pm2's errors for an unknown app and the same number", async () => {
  await pm2.start({ script: ctx.app('idle.js'), name: 'sc' });
  const count = async () => (await pm2.list()).filter((p) => p.name === 'sc').length;
  const [err, res] = await cb((done) => pm2.scale('sc', 3, done));
  assert.equal(err, null);
  assert.deepEqual(res, { success: true });
  assert.equal(await count(), 3);
  assert.deepEqual(await pm2.scale('sc', '+2'), { success: true });
  assert.equal(await count(), 5);
  await pm2.scale('sc', '-3');
  assert.equal(await count(), 2);
  await assert.rejects(pm2.scale('sc', 2), { message: 'Same process number' });
  const [err2] = await cb((done) => pm2.scale('nope', 2, done));
  assert.equal(err2.message, 'App not found');
  for (const p of await pm2.list()) ctx.track(p.pid);
  await pm2.delete('sc');
});

test('sendLineToStdin reaches the app; log:out arrives as { process: { pm_id, name, namespace }, at, data }', async () => {
  const bus = await pm2.launchBus();
  const outs = [];
  const errs = [];
  bus.on('log:out', (packet) => outs.push(packet));
  bus.on('log:err', (packet) => errs.push(packet));
  const [proc] = await pm2.start({ script: ctx.app('echo-stdin.js'), name: 'stdin' });
  ctx.track(proc.pid);
  await waitFor(() => outs.some((p) => p.data.includes('stdin reader up')), { message: 'the app is reading stdin' });
  const [err, res] = await cb((done) => pm2.sendLineToStdin(proc.pm_id, 'hello there', done));
  assert.equal(err, null);
  assert.equal(res[0].pm_id, proc.pm_id);
  await pm2.sendLineToStdin('stdin', 'second', '\n');
  await waitFor(() => outs.some((p) => p.data.includes('got:"second"')), { message: 'both lines echoed' });
  const hello = outs.find((p) => p.data.includes('got:"hello there"'));
  assert.ok(hello, 'the first line reached the app without a doubled newline');
  assert.deepEqual(Object.keys(hello).sort(), ['at', 'data', 'process']);
  assert.equal(hello.process.pm_id, proc.pm_id);
  assert.equal(hello.process.name, 'stdin');
  assert.equal(hello.process.namespace, 'default');
  assert.equal(typeof hello.at, 'number');
  assert.equal(typeof hello.data, 'string');

  // log:err has the same shape.
  ctx.write('err-line.js', "console.error('to stderr'); setInterval(() => {}, 1 << 30);\n");
  const [e] = await pm2.start({ script: ctx.app('err-line.js'), name: 'errline' });
  ctx.track(e.pid);
  await waitFor(() => errs.some((p) => p.data.includes('to stderr')), { message: 'log:err line' });
  const line = errs.find((p) => p.data.includes('to stderr'));
  assert.equal(line.process.pm_id, e.pm_id);
  assert.equal(line.process.name, 'errline');
  bus.close();
  await pm2.delete('stdin');
  await pm2.delete('errline');
});

test('process:exception: an uncaught exception in an app comes on the bus with the error', async () => {
  const bus = await pm2.launchBus();
  const seen = [];
  bus.on('process:exception', (packet) => seen.push(packet));
  const [proc] = await pm2.start({ script: ctx.app('thrower.js'), name: 'thrower', autorestart: false });
  ctx.track(proc.pid);
  await waitFor(() => seen.length > 0, { message: 'process:exception on the bus' });
  const [packet] = seen;
  assert.equal(packet.process.name, 'thrower');
  assert.equal(packet.process.pm_id, proc.pm_id);
  assert.equal(packet.process.namespace, 'default');
  assert.equal(typeof packet.at, 'number');
  assert.equal(packet.data.message, 'boom from the app');
  assert.equal(packet.data.code, 'E_BOOM');
  assert.match(packet.data.stack, /thrower\.js/);
  // Node's own handling is unchanged: the app still dies of it.
  await waitFor(async () => (await pm2.describe('thrower'))[0].pm2_env.status !== 'online', { message: 'the app exited' });
  bus.close();
  await pm2.delete('thrower');
});

test('trigger: an app without the action, or none of that name, is an error', async () => {
  const [proc] = await pm2.start({ script: ctx.app('idle.js'), name: 'noacts' });
  const [err] = await cb((done) => pm2.trigger(proc.pm_id, 'ping', done));
  assert.match(err.message, /Action doesn't exist ping for noacts/);
  await pm2.delete('noacts');
  await assert.rejects(pm2.trigger('web', 'act', { x: 1 }), { message: 'Unknown process' });
});

test('set / get: a module value round-trips through module_conf.json; an unset key fails', async () => {
  const [err, res] = await cb((done) => pm2.set('mymod:greeting', 'hello', done));
  assert.equal(err, null);
  assert.deepEqual(res, { success: true });
  const conf = JSON.parse(fs.readFileSync(path.join(ctx.home, 'module_conf.json'), 'utf8'));
  assert.equal(conf.mymod.greeting, 'hello');
  const [err2, got] = await cb((done) => pm2.get('mymod:greeting', done));
  assert.equal(err2, null);
  assert.equal(got.success, true);
  assert.match(got.output, /hello/);
  const [err3] = await cb((done) => pm2.get('mymod:missing', done));
  assert.ok(err3 instanceof Error);
  assert.match(err3.message, /mymod:missing is not set/);
});

test('dump, clearDump, resurrect: the saved list comes back; after clearDump nothing does', async () => {
  const [proc] = await pm2.start({ script: ctx.app('idle.js'), name: 'saved' });
  ctx.track(proc.pid);
  await pm2.dump();
  await pm2.delete('saved');
  const [err, list] = await cb((done) => pm2.resurrect(done));
  assert.equal(err, null);
  const back = list.filter((p) => p.name === 'saved');
  assert.equal(back.length, 1);
  ctx.track(back[0].pid);

  const [err2] = await cb((done) => pm2.clearDump(done));
  assert.equal(err2, null);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(ctx.home, 'dump.pm2'), 'utf8')), []);
  await pm2.delete('saved');
  assert.equal((await pm2.resurrect()).filter((p) => p.name === 'saved').length, 0);
});

test("startup: the CLI's one-line error for a platform it does not know", async () => {
  const [err] = await cb((done) => pm2.startup('no-such-init', done));
  assert.ok(err instanceof Error);
  assert.match(err.message, /no-such-init/);
  assert.doesNotMatch(err.message, /\n/);
});

test('update: the daemon is replaced and the apps come back', async () => {
  const [proc] = await pm2.start({ script: ctx.app('idle.js'), name: 'upd' });
  ctx.track(proc.pid);
  const before = ctx.daemonPid();
  const [err, res] = await cb((done) => pm2.update(done));
  assert.equal(err, null);
  assert.deepEqual(res, { success: true });
  const after = ctx.daemonPid();
  assert.ok(after && after !== before, `a new daemon (was ${before}, now ${after})`);
  const back = (await pm2.list()).filter((p) => p.name === 'upd');
  assert.equal(back.length, 1);
  ctx.track(back[0].pid);
  await pm2.delete('upd');
});

test('pm2:kill reaches every bus when a client kills the daemon', async () => {
  const bus = await pm2.launchBus();
  const kills = [];
  bus.on('pm2:kill', (packet) => kills.push(packet));
  const other = new PM2({ pm2_home: ctx.home });
  const [err] = await cb((done) => other.killDaemon(done));
  assert.equal(err, null);
  await waitFor(() => kills.length > 0, { message: 'pm2:kill on the bus' });
  assert.deepEqual(kills[0], { status: 'killed', msg: 'pm2 has been killed via CLI' });
  bus.close();
});
