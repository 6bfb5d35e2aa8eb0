'use strict';
// pm2's programmatic API over the pm-native daemon: pm2's documented example with only the
// require changed, the event bus, sendDataToProcessId, and the rest of the verbs.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { PM2 } = require('..');
const { makeCtx, waitFor, isAlive } = require('./helpers');
const { ROOT } = require('./library-helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());
const pm2 = new PM2({ pm2_home: ctx.home });

// Answers pm2's { type, data, topic } packets on the bus, as pm2's docs show.
ctx.write(
  'replier.js',
  `process.on('message', (packet) => {
  process.send({ type: 'process:msg', data: { echo: packet.data, topic: packet.topic, id: packet.id } });
});
console.log('replier up');
`,
);

/** Collects bus events until `until(events)` holds. */
function collect(bus, topics) {
  const events = [];
  for (const t of topics) bus.on(t, (...args) => events.push([t, ...args]));
  return events;
}

test("pm2's documented programmatic example runs unchanged after swapping the require", () => {
  // A node_modules/pm-native that points at this checkout, so the example's own
  // require('pm-native') resolves as it would in a user's project.
  const nm = path.join(ctx.apps, 'nm');
  fs.mkdirSync(path.join(nm, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(nm, 'node_modules', 'pm-native'));
  const example = fs.readFileSync(path.join(ROOT, 'examples', 'library', 'pm2-api.js'), 'utf8');
  assert.match(example, /require\('pm-native'\)/);
  const file = ctx.write('pm2-example.js', example);
  const r = spawnSync(process.execPath, [file, path.join(ROOT, 'examples', 'app.js')], {
    env: { ...ctx.env, NODE_PATH: path.join(nm, 'node_modules') },
    encoding: 'utf8',
    timeout: 30000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /null \[ 'api 0 online', 'api 1 online' \]/);
  const procs = ctx.procs('api');
  assert.equal(procs.length, 2);
  for (const p of procs) {
    assert.equal(p.pm2_env.exec_mode, 'cluster_mode');
    assert.equal(p.pm2_env.restart_time, 1, 'restarted once by the example');
    ctx.track(p.pid);
  }
  ctx.ok(['delete', 'api']);
});

test('launchBus: process:event for start, exit and restart; log:out and log:err lines', async () => {
  const bus = await pm2.launchBus();
  const events = collect(bus, ['process:event', 'log:*']);
  const [proc] = await pm2.start(ctx.app('logger.js'), { name: 'logs' });
  assert.equal(proc.name, 'logs');
  ctx.track(proc.pid);
  const logLines = (type) => events.filter((e) => e[0] === 'log:*' && e[1] === type).map((e) => e[2].data.trim());
  await waitFor(() => logLines('out').length >= 8 && logLines('err').length >= 8, { message: 'log lines on the bus' });
  assert.deepEqual(logLines('out').slice(0, 8), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `out line ${i}`));
  assert.deepEqual(logLines('err').slice(0, 8), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `err line ${i}`));
  const line = events.find((e) => e[0] === 'log:*')[2];
  assert.equal(line.process.name, 'logs');
  // pm2's packet, key for key: `rev` is the app's git revision, null outside a repository.
  assert.deepEqual(Object.keys(line.process), ['pm_id', 'name', 'rev', 'namespace']);
  assert.equal(line.process.rev, null);
  assert.equal(typeof line.at, 'number');

  const seen = () => events.filter((e) => e[0] === 'process:event').map((e) => `${e[1].event}:${e[1].process.restart_time}`);
  await waitFor(() => seen().includes('online:0'), { message: 'online event' });
  // A crash: exit, then the daemon brings it back (restart_time 1).
  process.kill(proc.pid, 'SIGKILL');
  await waitFor(() => seen().includes('online:1'), { message: 'restart after the crash' });
  const exitAt = seen().findIndex((s) => s.startsWith('exit'));
  assert.ok(exitAt >= 0 && exitAt < seen().indexOf('online:1'), `exit before the new online: ${seen()}`);
  // A restart through the API.
  const [again] = await pm2.restart('logs');
  ctx.track(again.pid);
  await waitFor(() => seen().includes('online:2'), { message: 'online after pm2.restart' });
  await pm2.delete('logs');
  await waitFor(() => seen().some((s) => s.startsWith('stop')), { message: 'stop event' });
  bus.close();
});

test('sendDataToProcessId round trip: the packet reaches process.on(message), the reply comes on the bus', async () => {
  const bus = await pm2.launchBus();
  const replies = [];
  bus.on('process:msg', (packet) => replies.push(packet));
  const [proc] = await pm2.start({ script: ctx.app('replier.js'), name: 'replier' });
  ctx.track(proc.pid);
  await waitFor(() => ctx.procs('replier')[0].pm2_env.status === 'online', { message: 'replier online' });
  const res = await new Promise((resolve, reject) =>
    pm2.sendDataToProcessId(proc.pm_id, { type: 'process:msg', data: { hello: 'world' }, topic: 'greet' }, (e, r) =>
      e ? reject(e) : resolve(r),
    ),
  );
  assert.equal(res.success, true);
  await waitFor(() => replies.length > 0, { message: 'the reply on the bus' });
  assert.deepEqual(replies[0].data, { echo: { hello: 'world' }, topic: 'greet', id: proc.pm_id });
  assert.equal(replies[0].process.name, 'replier');
  assert.equal(replies[0].process.pm_id, proc.pm_id);
  // pm2's (packet, cb) form and its validation.
  await pm2.sendDataToProcessId({ id: proc.pm_id, type: 'process:msg', data: 2, topic: true });
  await waitFor(() => replies.length > 1, { message: 'second reply' });
  assert.equal(replies[1].data.echo, 2);
  await assert.rejects(pm2.sendDataToProcessId(proc.pm_id, { data: 1 }), /ID, DATA or TOPIC field is missing/);
  await pm2.delete('replier');
  bus.close();
});

test('the other verbs, callback and promise forms: list, describe, stop, restart, reload, flush, signals, dump, killDaemon', async () => {
  const started = await new Promise((resolve, reject) =>
    pm2.start(ctx.app('idle.js'), { name: 'idler', instances: 2, exec_mode: 'fork' }, (e, procs) => (e ? reject(e) : resolve(procs))),
  );
  assert.equal(started.length, 2);
  for (const p of started) ctx.track(p.pid);
  const described = await pm2.describe('idler');
  assert.equal(described.length, 2);
  assert.deepEqual(await pm2.describe('nope'), []);
  assert.equal((await pm2.describe(started[0].pm_id)).length, 1);

  const stopped = await pm2.stop('idler');
  assert.ok(stopped.every((p) => p.pm2_env.status === 'stopped'));
  const restarted = await pm2.restart('idler');
  assert.ok(restarted.every((p) => p.pm2_env.status === 'online'));
  for (const p of restarted) ctx.track(p.pid);
  const reloaded = await pm2.reload('idler');
  for (const p of reloaded) ctx.track(p.pid);
  assert.equal(reloaded.length, 2);

  assert.ok(Array.isArray(await pm2.flush('idler')));
  assert.deepEqual(await pm2.reloadLogs(), {});
  const signalled = await pm2.sendSignalToProcessName('SIGUSR2', 'idler');
  assert.equal(signalled.length, 2);
  await assert.rejects(pm2.stop('no-such-app'), { code: 'not_found', message: 'Process or Namespace no-such-app not found' });

  assert.deepEqual(await pm2.dump(), { success: true });
  // The same dump as `pm save`: `pm resurrect` brings both instances back after a delete.
  assert.ok(fs.existsSync(path.join(ctx.home, 'dump.pm2')));
  await pm2.delete('all');
  ctx.ok(['resurrect']);
  const back = await pm2.list();
  assert.deepEqual(
    back.map((p) => [p.name, p.pm2_env.status]),
    [
      ['idler', 'online'],
      ['idler', 'online'],
    ],
  );

  const list = await new Promise((resolve) => pm2.list((e, l) => resolve(l)));
  assert.equal(list.length, 2);
  await pm2.delete('all');
  assert.deepEqual(await pm2.list(), []);

  const daemon = ctx.daemonPid();
  assert.ok(isAlive(daemon));
  await new Promise((resolve, reject) => pm2.killDaemon((e) => (e ? reject(e) : resolve())));
  await waitFor(() => !isAlive(daemon), { message: 'the daemon to exit' });
  // connect() starts a new one and says so.
  assert.deepEqual(await pm2.connect(), { new_pm2_instance: true });
  assert.deepEqual(await pm2.connect(), { new_pm2_instance: false });
  await pm2.disconnect();
});

test('require(pm-native) exposes the pm2 API at the top level, as require(pm2) does', () => {
  const pkg = require('..');
  for (const name of ['connect', 'disconnect', 'start', 'stop', 'restart', 'reload', 'delete', 'list', 'describe', 'flush', 'reloadLogs', 'sendSignalToProcessName', 'sendDataToProcessId', 'launchBus', 'killDaemon', 'dump']) {
    assert.equal(typeof pkg[name], 'function', name);
  }
  assert.equal(pkg.custom, PM2);
});
