'use strict';
// Apps outlive the daemon: after a daemon SIGKILL (or `pm update`) the next daemon adopts the
// running apps through the fd keeper and the live state: same pids, no request refused, no log
// line lost or doubled, restart policies working again. A pid the kernel gave to another process
// is never adopted, and a dump comes back when nothing runs any more.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { makeCtx, waitFor, isAlive, pidsWithHome } = require('./helpers');
const { freePort, get, loadLoop } = require('./http-helpers');

const ctxs = [];
after(() => ctxs.forEach((c) => c.cleanup()));

function world() {
  const c = makeCtx();
  ctxs.push(c);
  // `<pid> <n>` every 2 ms: a lost line is a gap in n, a doubled one a repeat.
  c.write('counter.js', "let n = 0;\nsetInterval(() => console.log(`${process.pid} ${n++}`), 2);\n");
  c.write(
    'web.js',
    "require('http').createServer((q, s) => s.end(JSON.stringify({ pid: process.pid })))" +
      ".listen(Number(process.env.PORT), '127.0.0.1');\n",
  );
  return c;
}

async function jlist(c) {
  const r = await c.pmAsync(['jlist']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const pidsOf = (list) => Object.fromEntries(list.map((p) => [p.pm_id, p.pid]));

/** Lines of the counter's log per pid, and whether each pid's numbers run 0, 1, 2, ... */
function counted(c) {
  const file = path.join(c.home, 'logs', 'counter-out.log');
  const per = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [pid, n] = line.split(' ').map(Number);
    if (!per.has(pid)) per.set(pid, []);
    per.get(pid).push(n);
  }
  const broken = [];
  for (const [pid, ns] of per) {
    ns.forEach((n, i) => {
      if (n !== i && broken.length < 5) broken.push(`pid ${pid}: line ${i} says ${n}`);
    });
  }
  return { per, broken };
}

async function startLoad(c) {
  const port = await freePort();
  c.ok(['start', c.app('counter.js')]);
  c.ok(['start', c.app('web.js'), '-i', '2', '--name', 'web'], { env: { PORT: String(port) } });
  await c.online('counter');
  await c.online('web', { count: 2 });
  // Online is not listening yet: the load starts once both workers answer.
  const seen = new Set();
  await waitFor(
    async () => {
      seen.add((await get(port)).pid);
      return seen.size === 2;
    },
    { message: 'both workers listening' },
  );
  const load = loadLoop(port);
  await waitFor(() => load.stats.ok > 50, { timeout: 20000, message: 'requests answered' });
  return load;
}

test('a daemon SIGKILL under load: the next command adopts every app, nothing is refused or lost, policies work again', async () => {
  const c = world();
  const load = await startLoad(c);
  const before = pidsOf(await jlist(c));
  const counter = before[0];
  const daemon = c.daemonPid();
  const linesAtKill = counted(c).per.get(counter).length;
  const killedAt = Date.now();
  process.kill(daemon, 'SIGKILL');
  await waitFor(() => !isAlive(daemon), { message: 'the daemon to die' });
  // While no daemon runs, the apps go on: requests are answered, lines are written.
  const okWhileDead = load.stats.ok;
  await waitFor(() => load.stats.ok > okWhileDead + 20, { message: 'requests while no daemon runs' });
  const list = await jlist(c);
  const gap = Date.now() - killedAt;
  assert.deepEqual(pidsOf(list), before, 'the same pids');
  assert.ok(list.every((p) => p.pm2_env.status === 'online'), JSON.stringify(list.map((p) => p.pm2_env.status)));
  assert.notEqual(c.daemonPid(), daemon);
  const log = fs.readFileSync(path.join(c.home, 'pm.log'), 'utf8');
  const took = /adopted 3 running process\(es\) of the previous daemon, restarted 0, in (\d+) ms/.exec(log);
  assert.ok(took, log.slice(-2000));
  console.log(`# daemon SIGKILL -> supervision resumed: ${gap} ms to the next command's answer (adoption itself ${took[1]} ms)`);
  // The adopted pipes are read again: lines written while no daemon ran and after arrive.
  await waitFor(() => counted(c).per.get(counter).length > linesAtKill + 200, { message: 'log lines after adoption' });
  // The load stops before an app is killed on purpose: a SIGKILLed worker resets its connections.
  await load.stop();
  assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 5).join(', '));
  const { per, broken } = counted(c);
  assert.deepEqual(broken, [], 'no line lost or doubled');
  console.log(`# ${load.stats.ok} requests, 0 failed; ${per.get(counter).length} lines of the adopted counter, none lost`);
  // Policies: a SIGKILL of the adopted fork app and of an adopted worker brings each back.
  process.kill(counter, 'SIGKILL');
  process.kill(before[1], 'SIGKILL');
  const again = await waitFor(
    async () => {
      const l = await jlist(c);
      const ok = l.every((p) => p.pm2_env.status === 'online' && p.pid > 0);
      return ok && l[0].pid !== counter && l[1].pid !== before[1] && l;
    },
    { timeout: 15000, message: 'the killed apps restarted' },
  );
  assert.equal(again[0].pm2_env.restart_time, 1);
  assert.equal(again[2].pid, before[2], 'the other worker untouched');
  c.track(again[0].pid);
  c.track(again[1].pid);
  await waitFor(() => (counted(c).per.get(again[0].pid) || []).length > 20, { message: 'the new counter logs' });
  assert.deepEqual(counted(c).broken, []);
});

test('pm update under load: the new daemon adopts the apps, same pids, nothing refused', async () => {
  const c = world();
  const load = await startLoad(c);
  const before = pidsOf(await jlist(c));
  const daemon = c.daemonPid();
  const r = await c.pmAsync(['update']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /PM2 updated/);
  assert.ok(!isAlive(daemon), 'the old daemon has gone');
  const list = await jlist(c);
  assert.deepEqual(pidsOf(list), before);
  assert.ok(list.every((p) => p.pm2_env.status === 'online' && p.pm2_env.restart_time === 0));
  const okAfter = load.stats.ok;
  await waitFor(() => load.stats.ok > okAfter + 50, { message: 'requests after the update' });
  await load.stop();
  assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 5).join(', '));
  assert.deepEqual(counted(c).broken, []);
  // The state written on the way out names the new daemon once it writes its own.
  await waitFor(() => JSON.parse(fs.readFileSync(path.join(c.home, 'live.json'), 'utf8')).daemon_pid === c.daemonPid(), {
    message: 'the new live state',
  });
});

test('pm update keeps the app running and starts its restart count over, as pm2 update does', async () => {
  const c = world();
  c.ok(['start', c.app('idle.js'), '--name', 'counted']);
  await c.online('counted');
  c.ok(['restart', 'counted']);
  const [restarted] = await waitFor(async () => {
    const l = await jlist(c);
    return l[0].pm2_env.restart_time === 1 && l[0].pm2_env.status === 'online' && l;
  }, { message: 'one restart counted' });
  c.track(restarted.pid);
  const r = await c.pmAsync(['update']);
  assert.equal(r.status, 0, r.stderr);
  const [after] = await jlist(c);
  assert.equal(after.pid, restarted.pid, 'adopted, not restarted');
  assert.equal(after.pm2_env.restart_time, 0);
  assert.equal(after.pm2_env.unstable_restarts, 0);
});

test('an app that died while no daemon ran is restarted, the others adopted', async () => {
  const c = world();
  c.ok(['start', c.app('idle.js'), '--name', 'stays']);
  c.ok(['start', c.app('idle.js'), '--name', 'dies', '-f']);
  const [stays] = await c.online('stays');
  const [dies] = await c.online('dies');
  const daemon = c.daemonPid();
  process.kill(daemon, 'SIGKILL');
  await waitFor(() => !isAlive(daemon), { message: 'the daemon to die' });
  process.kill(dies.pid, 'SIGKILL');
  await waitFor(() => !isAlive(dies.pid), { message: 'the app to die' });
  const list = await waitFor(
    async () => {
      const l = await jlist(c);
      return l.length === 2 && l.every((p) => p.pm2_env.status === 'online' && p.pid > 0) && l;
    },
    { message: 'both online' },
  );
  assert.equal(list[0].pid, stays.pid);
  assert.notEqual(list[1].pid, dies.pid);
  assert.equal(list[1].pm2_env.restart_time, 1);
  c.track(list[1].pid);
});

test('a pid now held by another process is not adopted; with nothing running the dump comes back', async () => {
  const c = world();
  c.ok(['start', c.app('idle.js'), '--name', 'saved']);
  const [app] = await c.online('saved');
  c.ok(['save']);
  const file = path.join(c.home, 'live.json');
  const recorded = () => JSON.parse(fs.readFileSync(file, 'utf8')).procs.some((p) => p.pid === app.pid);
  await waitFor(recorded, { message: 'the app in the live state' });
  const daemon = c.daemonPid();
  process.kill(daemon, 'SIGKILL');
  await waitFor(() => !isAlive(daemon), { message: 'the daemon to die' });
  process.kill(app.pid, 'SIGKILL');
  await waitFor(() => !isAlive(app.pid), { message: 'the app to die' });
  // A stranger takes the app's place in the live state: its pid is live, its start time not the app's.
  const stranger = spawn('sleep', ['120'], { stdio: 'ignore' });
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(state.procs[0].pid, app.pid);
    state.procs[0].pid = stranger.pid;
    fs.writeFileSync(file, JSON.stringify(state));
    const started = Date.now();
    c.ok(['ls']);
    const [back] = await c.online('saved', { timeout: 5000 });
    console.log(`# nothing ran: the dump was online ${Date.now() - started} ms after the next command`);
    assert.notEqual(back.pid, stranger.pid);
    assert.notEqual(back.pid, app.pid);
    assert.ok(isAlive(stranger.pid), 'the stranger was left alone');
    assert.equal(c.procs('saved').length, 1);
  } finally {
    stranger.kill('SIGKILL');
  }
});

test('pm kill after a daemon death stops the apps it left running, and the keeper goes too', async () => {
  const c = world();
  c.ok(['start', c.app('idle.js'), '--name', 'left']);
  const [app] = await c.online('left');
  const daemon = c.daemonPid();
  process.kill(daemon, 'SIGKILL');
  await waitFor(() => !isAlive(daemon), { message: 'the daemon to die' });
  assert.ok(isAlive(app.pid), 'the app outlived its daemon');
  c.ok(['kill']);
  await waitFor(() => !isAlive(app.pid), { message: 'the app stopped' });
  await waitFor(() => pidsWithHome(c.home).length === 0, { message: 'no daemon, keeper or app left' });
  assert.ok(!fs.existsSync(path.join(c.home, 'live.json')), 'a clean stop leaves no live state');
});
