'use strict';
// The main job, end to end: start, list, restart, stop, delete, kill, and every kind of target
// (name, id, /regex/, namespace), against a private daemon.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { makeCtx, waitFor, isAlive, ROOT, BIN, lines } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const PKG_VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const TABLE_HEADER = ['id', 'name', 'namespace', 'version', 'mode', 'pid', 'uptime', '↺', 'status', 'cpu', 'mem', 'user', 'watching'];

/** The cells of a `│ a │ b │` table row. */
function cells(line) {
  return line.split('│').slice(1, -1).map((c) => c.trim());
}

function httpGet(port) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

test('the package entry loads the addon and names the binary', () => {
  const pkg = require('..');
  assert.equal(pkg.version(), PKG_VERSION);
  assert.equal(pkg.binPath, BIN);
  assert.ok(fs.statSync(pkg.binPath).mode & 0o111, 'binPath is executable');
  const r = ctx.pm(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `${PKG_VERSION}\n`);
});

let webPid = 0;

test('start examples/app.js --name web: online in jlist and serving HTTP', async () => {
  const r = ctx.pm(['start', 'examples/app.js', '--name', 'web'], { cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = lines(r.stdout);
  assert.equal(out[0], `[PM2] Starting ${path.join(ROOT, 'examples/app.js')} in fork_mode (1 instance)`);
  assert.equal(out[1], '[PM2] Done.');

  const [web] = await ctx.online('web');
  const list = ctx.jlist();
  assert.equal(list.length, 1);
  assert.equal(web.pm_id, 0);
  assert.equal(web.pm2_env.pm_exec_path, path.join(ROOT, 'examples/app.js'));
  assert.equal(web.pm2_env.restart_time, 0);
  assert.ok(isAlive(web.pid), 'the pid in jlist is a live process');
  webPid = web.pid;

  const outLog = path.join(ctx.home, 'logs', 'web-out.log');
  const port = await waitFor(() => {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(outLog, 'utf8'));
    return m && Number(m[1]);
  }, { message: 'the port in web-out.log' });
  assert.equal(await httpGet(port), `hello from ${webPid} (instance 0)\n`);
});

test('ls prints pm2\'s table with a web row', () => {
  const r = ctx.pm(['ls']);
  assert.equal(r.status, 0);
  const out = lines(r.stdout);
  const header = out.find((l) => l.startsWith('│ id │ name'));
  assert.ok(header, `no header line in:\n${r.stdout}`);
  assert.deepEqual(cells(header), TABLE_HEADER);
  const rows = out.filter((l) => l.startsWith('│') && l !== header);
  assert.equal(rows.length, 1, r.stdout);
  const row = cells(rows[0]);
  assert.deepEqual(row.slice(0, 6), ['0', 'web', 'default', PKG_VERSION, 'fork', String(webPid)]);
  assert.match(row[6], /^\d+s$/);
  assert.equal(row[7], '0');
  assert.equal(row[8], 'online');
  assert.equal(row[11], os.userInfo().username);
  assert.equal(row[12], 'disabled');
  for (const alias of ['list', 'l', 'ps', 'status']) {
    const a = ctx.pm([alias]);
    assert.equal(a.status, 0, alias);
    assert.ok(lines(a.stdout).some((l) => l.startsWith('│ 0  │ web ') && l.includes('│ online ')), `${alias}:\n${a.stdout}`);
  }
});

test('ping answers pong, pid prints the pid, describe shows the status', () => {
  const ping = ctx.pm(['ping']);
  assert.equal(ping.status, 0);
  assert.equal(ping.stdout, "{ msg: 'pong' }\n");

  const pid = ctx.pm(['pid', 'web']);
  assert.equal(pid.status, 0);
  assert.equal(pid.stdout, `${webPid}\n`);
  const nosuch = ctx.pm(['pid', 'nosuch']);
  assert.equal(nosuch.status, 0);
  assert.equal(nosuch.stdout, '\n', 'pm2 prints an empty line for an unknown name');

  const d = ctx.pm(['describe', 'web']);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /│ status\s+│ online\s+│/);
  assert.match(d.stdout, /│ name\s+│ web\s+│/);
  assert.match(d.stdout, new RegExp(`│ script path\\s+│ ${path.join(ROOT, 'examples/app.js').replace(/[.]/g, '\\.')}\\s+│`));
  for (const alias of ['desc', 'info', 'show']) {
    assert.match(ctx.pm([alias, 'web']).stdout, /│ status\s+│ online\s+│/, alias);
  }
});

test('pid <id> prints that app\'s pid, once', () => {
  const byId = ctx.pm(['pid', '0']);
  assert.equal(byId.status, 0);
  assert.equal(byId.stdout, `${webPid}\n`);
});

test('restart web: restart_time 1 and a new pid, the old process gone', async () => {
  const r = ctx.pm(['restart', 'web']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes('[PM2] Applying action restartProcessId on app [web](ids: [ 0 ])'), r.stdout);
  assert.ok(r.stdout.includes('[PM2] [web](0) ✓'), r.stdout);
  const [web] = await ctx.online('web');
  assert.equal(web.pm2_env.restart_time, 1);
  assert.notEqual(web.pid, webPid);
  assert.equal(isAlive(webPid), false, 'old pid still alive');
  webPid = web.pid;
});

test('start of a running script is refused without -f; -f starts a second one', async () => {
  const again = ctx.pm(['start', 'examples/app.js', '--name', 'web'], { cwd: ROOT });
  assert.equal(again.status, 1);
  assert.equal(again.stderr, '[PM2][ERROR] Script already launched, add -f option to force re-execution\n');
  assert.equal(ctx.procs('web').length, 1);
  assert.equal(ctx.procs('web')[0].pid, webPid, 'the running app was not touched');

  const forced = ctx.pm(['start', 'examples/app.js', '--name', 'web', '-f'], { cwd: ROOT });
  assert.equal(forced.status, 0, forced.stderr);
  const webs = await ctx.online('web', { count: 2 });
  assert.deepEqual(webs.map((p) => p.pm_id), [0, 1]);
  assert.equal(webs[0].pid, webPid);
  assert.deepEqual(webs.map((p) => p.pm2_env.NODE_APP_INSTANCE), [0, 1]);

  const pid = ctx.pm(['pid', 'web']);
  assert.equal(pid.stdout, `${webs[0].pid}\n${webs[1].pid}\n`);
});

test('stop web: stopped, pid 0, processes really gone', async () => {
  const before = ctx.procs('web').map((p) => p.pid);
  const r = ctx.pm(['stop', 'web']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes('[PM2] Applying action stopProcessId on app [web](ids: [ 0, 1 ])'), r.stdout);
  const webs = ctx.procs('web');
  assert.deepEqual(webs.map((p) => [p.pm2_env.status, p.pid]), [['stopped', 0], ['stopped', 0]]);
  assert.deepEqual(webs.map((p) => p.monit), [{ memory: 0, cpu: 0 }, { memory: 0, cpu: 0 }]);
  for (const pid of before) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} still exists`);
  }
  assert.equal(fs.existsSync(path.join(ctx.home, 'pids', 'web-0.pid')), false, 'pid file removed on stop');
});

test('delete: by id, then by name, leaves an empty jlist', () => {
  const one = ctx.pm(['delete', '1']);
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(ctx.jlist().map((p) => p.pm_id), [0]);
  const r = ctx.pm(['delete', 'web']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes('[PM2] [web](0) ✓'), r.stdout);
  const j = ctx.pm(['jlist']);
  assert.equal(j.stdout, '[]');
});

test('stop all with nothing running warns and exits 1', () => {
  const r = ctx.pm(['stop', 'all']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, '[PM2][WARN] No process found\n');
});

test('regex target: stop /^api-/ stops api-1 and api-2 only', async () => {
  for (const name of ['api-1', 'api-2', 'other']) ctx.ok(['start', 'idle.js', '--name', name, '-f']);
  await ctx.online('api-1');
  await ctx.online('api-2');
  const [other] = await ctx.online('other');
  const r = ctx.pm(['stop', '/^api-/']);
  assert.equal(r.status, 0, r.stderr);
  const by = Object.fromEntries(ctx.jlist().map((p) => [p.name, p.pm2_env.status]));
  assert.deepEqual(by, { 'api-1': 'stopped', 'api-2': 'stopped', other: 'online' });
  assert.equal(ctx.procs('other')[0].pid, other.pid);

  const none = ctx.pm(['stop', '/^nomatch-/']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /not found|No process found/);
  ctx.ok(['delete', 'all']);
  assert.deepEqual(ctx.jlist(), []);
});

test('namespace target: stop, restart and delete a namespace', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'n1', '--namespace', 'blue']);
  ctx.ok(['start', 'idle.js', '--name', 'n2', '--namespace', 'blue', '-f']);
  ctx.ok(['start', 'idle.js', '--name', 'n3', '--namespace', 'green', '-f']);
  await ctx.online('n1');
  await ctx.online('n2');
  const [n3] = await ctx.online('n3');
  assert.deepEqual(ctx.jlist().map((p) => p.pm2_env.namespace), ['blue', 'blue', 'green']);

  assert.equal(ctx.pm(['stop', 'blue']).status, 0);
  let by = Object.fromEntries(ctx.jlist().map((p) => [p.name, p.pm2_env.status]));
  assert.deepEqual(by, { n1: 'stopped', n2: 'stopped', n3: 'online' });

  assert.equal(ctx.pm(['restart', 'blue']).status, 0);
  await ctx.online('n1');
  await ctx.online('n2');
  assert.equal(ctx.procs('n3')[0].pid, n3.pid, 'green untouched');

  assert.equal(ctx.pm(['delete', 'blue']).status, 0);
  assert.deepEqual(ctx.jlist().map((p) => p.name), ['n3']);
  ctx.ok(['delete', 'all']);
});

test('startOrRestart starts when absent and restarts when present', async () => {
  const first = ctx.pm(['startOrRestart', 'idle.js', '--name', 'sor']);
  assert.equal(first.status, 0, first.stderr);
  const [a] = await ctx.online('sor');
  assert.equal(a.pm2_env.restart_time, 0);

  const second = ctx.pm(['startOrRestart', 'idle.js', '--name', 'sor']);
  assert.equal(second.status, 0, second.stderr);
  const [b] = await ctx.online('sor');
  assert.equal(b.pm2_env.restart_time, 1);
  assert.equal(b.pm_id, a.pm_id);
  assert.notEqual(b.pid, a.pid);
  assert.equal(isAlive(a.pid), false);
  assert.equal(ctx.jlist().length, 1);
});

test('reset zeroes the restart counters', async () => {
  ctx.ok(['restart', 'sor']);
  ctx.ok(['restart', 'sor']);
  const [before] = await ctx.online('sor');
  assert.equal(before.pm2_env.restart_time, 3);
  const r = ctx.pm(['reset', 'sor']);
  assert.equal(r.status, 0, r.stderr);
  const [after] = await ctx.online('sor');
  assert.equal(after.pm2_env.restart_time, 0);
  assert.equal(after.pm2_env.unstable_restarts, 0);
  assert.equal(after.pid, before.pid, 'reset does not restart');
});

test('restart of a stopped app starts it without counting a restart (pm2)', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'rs']);
  await ctx.online('rs');
  ctx.ok(['stop', 'rs']);
  ctx.ok(['restart', 'rs']);
  const [rs] = await ctx.online('rs');
  assert.equal(rs.pm2_env.restart_time, 0);
  ctx.ok(['delete', 'rs']);
});

test('start of a stopped app\'s script, or of an app by name, starts that app again', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'again']);
  const [first] = await ctx.online('again');
  ctx.ok(['stop', 'again']);
  const r = ctx.pm(['start', 'idle.js', '--name', 'again']);
  assert.equal(r.status, 0, r.stderr);
  const [second] = await ctx.online('again');
  assert.equal(second.pm_id, first.pm_id);
  assert.notEqual(second.pid, first.pid);

  const byName = ctx.pm(['start', 'again']);
  assert.equal(byName.status, 0, byName.stderr);
  const [third] = await ctx.online('again');
  assert.equal(third.pm_id, first.pm_id);
  assert.notEqual(third.pid, second.pid);
  assert.equal(ctx.procs('again').length, 1);
  ctx.ok(['delete', 'again']);
});

test('a crashing app is restarted, then errored after max_restarts unstable exits', async () => {
  ctx.write('crash.js', 'process.exit(3);\n');
  ctx.ok(['start', 'crash.js', '--name', 'crash', '--max-restarts', '3']);
  const [c] = await waitFor(() => {
    const ps = ctx.procs('crash');
    return ps[0] && ps[0].pm2_env.status === 'errored' && ps;
  }, { message: 'crash errored' });
  assert.equal(c.pid, 0);
  assert.equal(c.pm2_env.unstable_restarts, 3);
  assert.equal(c.pm2_env.restart_time, 2);
  assert.equal(c.pm2_env.exit_code, 3);

  ctx.ok(['start', 'crash.js', '--name', 'once', '--no-autorestart']);
  ctx.ok(['start', 'crash.js', '--name', 'code3', '--stop-exit-codes', '3', '-f']);
  for (const name of ['once', 'code3']) {
    const [p] = await waitFor(() => {
      const ps = ctx.procs(name);
      return ps[0] && ps[0].pm2_env.status === 'stopped' && ps;
    }, { message: `${name} stopped` });
    assert.equal(p.pm2_env.restart_time, 0, name);
    assert.equal(p.pm2_env.exit_code, 3, name);
  }
  ctx.ok(['delete', 'crash', 'once', 'code3']);
});

test('stop kills the whole tree, with SIGKILL after kill_timeout for a stubborn app', async () => {
  const child = path.join(ctx.apps, 'grandchild.pid');
  ctx.write('stubborn.js', `
const { spawn } = require('child_process');
const fs = require('fs');
process.on('SIGINT', () => {});
const c = spawn('sleep', ['600'], { stdio: 'ignore' });
fs.writeFileSync(${JSON.stringify(child)} + '.tmp', String(c.pid));
fs.renameSync(${JSON.stringify(child)} + '.tmp', ${JSON.stringify(child)});
setInterval(() => {}, 1 << 30);
`);
  ctx.ok(['start', 'stubborn.js', '--name', 'stubborn', '--kill-timeout', '500']);
  const [p] = await ctx.online('stubborn');
  const gc = Number(await waitFor(() => fs.existsSync(child) && fs.readFileSync(child, 'utf8'), { message: 'grandchild pid' }));
  ctx.track(gc);
  assert.ok(isAlive(gc));
  const t0 = Date.now();
  const r = ctx.pm(['stop', 'stubborn']);
  const took = Date.now() - t0;
  assert.equal(r.status, 0, r.stderr);
  assert.ok(took >= 450, `stop waited for kill_timeout (took ${took} ms)`);
  assert.ok(took < 5000, `stop took ${took} ms`);
  assert.equal(isAlive(p.pid), false, 'app killed');
  await waitFor(() => !isAlive(gc), { timeout: 3000, message: 'grandchild killed with the group' });
  assert.equal(ctx.procs('stubborn')[0].pm2_env.status, 'stopped');
  ctx.ok(['delete', 'stubborn']);
});

test('sendSignal delivers the signal to the app', async () => {
  const mark = path.join(ctx.apps, 'usr2.mark');
  ctx.write('sig.js', `process.on('SIGUSR2', () => require('fs').writeFileSync(${JSON.stringify(mark)}, 'got'));\nsetInterval(() => {}, 1 << 30);\n`);
  ctx.ok(['start', 'sig.js', '--name', 'sig']);
  const [p] = await ctx.online('sig');
  // Let Node install the handler: it writes nothing before, so wait for the process to be running JS.
  await waitFor(() => fs.readFileSync(`/proc/${p.pid}/status`, 'utf8').includes('SigCgt:') &&
    (BigInt('0x' + /SigCgt:\s*([0-9a-f]+)/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'))[1]) & (1n << 11n)) !== 0n,
  { message: 'SIGUSR2 handler installed' });
  const r = ctx.pm(['sendSignal', 'SIGUSR2', 'sig']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('[PM2] Sending signal to process name sig\n'), r.stdout);
  await waitFor(() => fs.existsSync(mark), { message: 'SIGUSR2 received' });
  const [after] = ctx.procs('sig');
  assert.equal(after.pid, p.pid, 'still the same process');
  ctx.ok(['delete', 'sig']);
});

test('kill stops the apps and the daemon, removes the socket and pid file', async () => {
  const daemon = ctx.daemonPid();
  assert.ok(daemon > 0 && isAlive(daemon), 'daemon running before kill');
  const [sor] = ctx.procs('sor');
  const r = ctx.pm(['kill']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).slice(-2), ['[PM2] [v] All Applications Stopped', '[PM2] [v] PM2 Daemon Stopped']);
  await waitFor(() => !isAlive(daemon), { message: 'daemon gone' });
  assert.equal(isAlive(sor.pid), false, 'app stopped by kill');
  assert.equal(fs.existsSync(path.join(ctx.home, 'rpc.sock')), false, 'socket removed');
  assert.equal(fs.existsSync(path.join(ctx.home, 'pm.pid')), false, 'pid file removed');

  // kill with no daemon: succeeds and does not start one.
  const again = ctx.pm(['kill']);
  assert.equal(again.status, 0);
  assert.equal(fs.existsSync(path.join(ctx.home, 'rpc.sock')), false);
  assert.equal(fs.existsSync(path.join(ctx.home, 'pm.pid')), false);
});

test('kill returns promptly once the daemon has exited', async () => {
  ctx.ok(['ping']); // a fresh daemon, no apps
  const daemon = ctx.daemonPid();
  assert.ok(isAlive(daemon));
  const t0 = Date.now();
  const r = ctx.pm(['kill']);
  const took = Date.now() - t0;
  assert.equal(r.status, 0);
  assert.equal(isAlive(daemon), false);
  // The daemon stops in a few ms with no apps; an exited daemon may linger as a zombie until
  // init reaps it, which must not hold the CLI up.
  assert.ok(took < 1000, `pm kill took ${took} ms`);
});
