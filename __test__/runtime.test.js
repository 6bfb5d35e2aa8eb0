'use strict';
// Container mode: `pm-runtime` as a container's PID 1 (in a new PID namespace, through
// util-linux's unshare) and as a plain foreground process (a subreaper). Real processes; the
// runtime is started by this file and ended by its pid.

const { test, after } = require('node:test');
const assert = require('node:assert');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, makeCtx, waitFor, isAlive, lines } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const RUNTIME = path.join(ROOT, 'bin', 'pm-runtime');
const NS_OK =
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { encoding: 'utf8' }).status === 0;

const started = [];
after(() => {
  for (const r of started) {
    for (const pid of [r.child.pid, r.initPid]) {
      if (pid && isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
});

/** Children of `pid`, from /proc. */
function childrenOf(pid) {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function stateOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return null;
  }
}

/**
 * Starts the runtime with `args`: as PID 1 of a new PID namespace with `ns`, else directly.
 * `init()` resolves to the host pid of the runtime's first process (the reaper).
 */
function runtime(args, { ns = false, env = ctx.env, bin = RUNTIME } = {}) {
  const [cmd, argv] = ns ? ['unshare', ['--pid', '--fork', '--mount-proc', bin, ...args]] : [bin, args];
  const child = spawn(cmd, argv, { cwd: ctx.apps, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { child, stdout: '', stderr: '', initPid: 0 };
  child.stdout.on('data', (d) => (r.stdout += d));
  child.stderr.on('data', (d) => (r.stderr += d));
  r.exited = new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal })));
  r.init = async () => {
    if (!ns) return child.pid;
    r.initPid = await waitFor(() => childrenOf(child.pid)[0], { message: 'the namespace init' });
    return r.initPid;
  };
  r.wait = async (timeout = 15000) => {
    let timer;
    const res = await Promise.race([
      r.exited,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`runtime still running after ${timeout} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)),
          timeout,
        );
      }),
    ]);
    clearTimeout(timer);
    return res;
  };
  started.push(r);
  return r;
}

// Handles the stop signal (pm stop's default kill_signal is SIGINT): writes a marker, exits 7.
ctx.write(
  'graceful.js',
  `
process.on('SIGINT', () => { require('fs').writeFileSync(process.env.MARKER, 'SIGINT'); process.exit(7); });
console.log('graceful up');
setInterval(() => {}, 1 << 30);
`,
);
// Leaves an orphan behind: sh exits at once, its node child outlives it, writes the parent it
// has by then (getppid, after the reparenting), and exits.
ctx.write(
  'orphaner.js',
  `
const { spawnSync } = require('child_process');
const orphan = "setTimeout(() => { const fs = require('fs'); fs.writeFileSync(process.env.DONE + '.tmp', String(process.ppid)); fs.renameSync(process.env.DONE + '.tmp', process.env.DONE); }, 300)";
spawnSync('sh', ['-c', '"$0" -e "$1" & exit 0', process.execPath, orphan], { stdio: 'ignore' });
console.log('orphan left');
setInterval(() => {}, 1 << 30);
`,
);
ctx.write('exit3.js', "console.log('bye'); console.error('bye err'); setTimeout(() => process.exit(3), 100);\n");
// Crashes on its first run only.
ctx.write(
  'crash-once.js',
  `
const fs = require('fs');
if (!fs.existsSync(process.env.FLAG)) { fs.writeFileSync(process.env.FLAG, '1'); console.log('first life'); process.exit(1); }
console.log('second life');
setInterval(() => {}, 1 << 30);
`,
);

function marker(name) {
  return path.join(ctx.apps, `${name}-${process.hrtime.bigint()}`);
}

for (const ns of NS_OK ? [true, false] : [false]) {
  const where = ns ? 'as PID 1 of a PID namespace' : 'as a subreaper';

  test(`${where}: an orphaned grandchild is reaped and was reparented to the runtime`, async () => {
    const done = marker('orphan');
    const r = runtime(['orphaner.js', '--name', 'orph'], { ns, env: { ...ctx.env, DONE: done } });
    const init = await r.init();
    await waitFor(() => fs.existsSync(done), { message: 'the orphan to finish' });
    const ppid = Number(fs.readFileSync(done, 'utf8').trim());
    // Its parent died; the kernel gave it to the namespace's init or to the subreaper.
    assert.equal(ppid, ns ? 1 : init, 'the orphan was reparented to the runtime');
    await waitFor(() => childrenOf(init).every((c) => stateOf(c) !== 'Z'), {
      timeout: 3000,
      message: 'no zombie child left under the runtime',
    });
    process.kill(init, 'SIGTERM');
    const { status } = await r.wait();
    assert.equal(status, 130, `idle app ended by SIGINT: 128 + 2\n${r.stderr}`);
  });

  test(`${where}: SIGTERM stops the apps with their kill_signal and exits with their status`, async () => {
    const m = marker('graceful');
    const r = runtime(['graceful.js', '--name', 'grace'], { ns, env: { ...ctx.env, MARKER: m } });
    const init = await r.init();
    await waitFor(() => r.stdout.includes('graceful up'), { message: 'the app online' });
    const t0 = Date.now();
    process.kill(init, 'SIGTERM');
    const { status } = await r.wait();
    assert.equal(fs.readFileSync(m, 'utf8'), 'SIGINT', 'the app handled its stop signal');
    assert.equal(status, 7, `the app's exit code\nstderr: ${r.stderr}`);
    assert.ok(Date.now() - t0 < 1500, 'no kill_timeout wait for an app that stops at once');
  });
}

test('all apps gone: the runtime exits with their status; raw logs keep their stream', async () => {
  const r = runtime(['start', 'exit3.js', '--no-autorestart']);
  const t0 = Date.now();
  const { status } = await r.wait();
  assert.equal(status, 3, r.stderr);
  assert.ok(Date.now() - t0 < 4000, `exits once the app is gone (pm2-runtime polls for ~10 s): ${Date.now() - t0} ms`);
  assert.ok(lines(r.stdout).includes('bye'), r.stdout);
  assert.ok(lines(r.stderr).includes('bye err'), r.stderr);
  assert.ok(!r.stdout.includes('bye err'), 'stderr lines stay on stderr in raw mode');
  assert.match(r.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: PM2 log: App \[exit3:0\] online$/m);
});

test('--no-auto-exit keeps running with every app stopped; pm ls reaches it through PM_HOME', async () => {
  const r = runtime(['exit3.js', '--no-autorestart', '--no-auto-exit', '--name', 'stays']);
  // Only once it serves: a `pm` finding no daemon at PM_HOME would start one of its own.
  await waitFor(() => r.stdout.includes('App [stays:0] online'), { message: 'the runtime serving' });
  await waitFor(
    () => {
      const p = ctx.procs('stays')[0];
      return p && p.pm2_env.status === 'stopped';
    },
    { message: 'the app stopped, seen through pm jlist' },
  );
  // Auto-exit reacts to the exit event within milliseconds; a second without it says it is off.
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(r.child.exitCode, null, 'still running');
  process.kill(r.child.pid, 'SIGTERM');
  const { status } = await r.wait();
  assert.equal(status, 3, 'the last exit code of the app');
});

test('a crashed app is restarted by its policy', async () => {
  const flag = marker('flag');
  const r = runtime(['crash-once.js', '--name', 'phoenix'], { env: { ...ctx.env, FLAG: flag } });
  await waitFor(() => r.stdout.includes('second life'), { message: 'the restarted app' });
  assert.ok(r.stdout.indexOf('first life') < r.stdout.indexOf('second life'));
  assert.equal(ctx.procs('phoenix')[0].pm2_env.restart_time, 1);
  process.kill(r.child.pid, 'SIGTERM');
  assert.equal((await r.wait()).status, 130);
});

test('--json: pm2-runtime JSON lines for log lines and process events', async () => {
  const r = runtime(['exit3.js', '--no-autorestart', '--json', '--name', 'js']);
  assert.equal((await r.wait()).status, 3);
  const objs = lines(r.stdout).map((l) => JSON.parse(l));
  const out = objs.find((o) => o.type === 'out');
  assert.deepEqual(Object.keys(out), ['message', 'timestamp', 'type', 'process_id', 'app_name']);
  assert.equal(out.message, 'bye');
  assert.equal(out.app_name, 'js');
  assert.match(out.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(objs.some((o) => o.type === 'err' && o.message === 'bye err'));
  assert.ok(objs.some((o) => o.type === 'process_event' && o.status === 'online' && o.app_name === 'js'));
  assert.ok(objs.some((o) => o.type === 'process_event' && o.status === 'exit'));
});

test('--formatted prefixes id|name; --format writes key=value', async () => {
  const a = runtime(['exit3.js', '--no-autorestart', '--formatted', '--name', 'fmt']);
  assert.equal((await a.wait()).status, 3);
  assert.ok(lines(a.stdout).includes('0|fmt | bye'), a.stdout);
  assert.ok(lines(a.stdout).includes('0|fmt | bye err'), a.stdout);
  const b = runtime(['exit3.js', '--no-autorestart', '--format', '--name', 'kv']);
  assert.equal((await b.wait()).status, 3);
  assert.match(b.stdout, /^timestamp=\S+ app=kv id=0 type=error message=bye err$/m);
});

test('an ecosystem file with --env and --only, under the pm-docker name and as pm runtime', async () => {
  ctx.write(
    'eco.config.js',
    `module.exports = { apps: [
  { name: 'a', script: 'exit3.js', autorestart: false, env_production: { WHO: 'prod' } },
  { name: 'b', script: 'exit3.js', autorestart: false },
] };`,
  );
  ctx.write('who.js', "console.log('who=' + process.env.WHO);\n");
  ctx.write(
    'eco2.config.js',
    "module.exports = { apps: [{ name: 'w', script: 'who.js', autorestart: false, env_production: { WHO: 'prod' } }] };",
  );
  fs.symlinkSync(RUNTIME, path.join(ctx.apps, 'pm-docker'));
  const r = runtime(['start', 'eco.config.js', '--only', 'a', '--formatted'], { bin: path.join(ctx.apps, 'pm-docker') });
  assert.equal((await r.wait()).status, 3);
  // pm2 pads to the widest name so far, 3 at first: a short one gets no space.
  assert.ok(lines(r.stdout).includes('0|a| bye'), r.stdout);
  assert.ok(!r.stdout.includes('|b '), 'only a');
  const v = runtime(['runtime', 'start', 'eco2.config.js', '--env', 'production'], { bin: ctx.bin });
  assert.equal((await v.wait()).status, 0, v.stderr);
  assert.ok(lines(v.stdout).includes('who=prod'), v.stdout);
});

test('without PM_HOME it uses a temp home and removes it at exit', async () => {
  const env = { ...ctx.env };
  delete env.PM_HOME;
  ctx.write('home.js', "console.log('home=' + process.env.PM_HOME); setTimeout(() => {}, 100);\n");
  const r = runtime(['home.js', '--no-autorestart'], { env });
  assert.equal((await r.wait()).status, 0, r.stderr);
  const home = /home=(\S+)/.exec(r.stdout)[1];
  assert.ok(home.startsWith(require('node:os').tmpdir()), home);
  assert.ok(!fs.existsSync(home), `${home} removed`);
});

test('bad input: one line and exit 1, before anything starts', () => {
  const run = (args) => spawnSync(RUNTIME, args, { cwd: ctx.apps, env: ctx.env, encoding: 'utf8', timeout: 15000 });
  const missing = run(['nosuch.js']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Script not found: .*nosuch\.js/);
  const delay = run(['--delay', 'soon', 'exit3.js']);
  assert.equal(delay.status, 1);
  assert.equal(lines(delay.stderr).length, 1, delay.stderr);
  const none = run([]);
  assert.equal(none.status, 1);
  assert.match(none.stdout, /Usage: pm-runtime/);
  const warn = run(['exit3.js', '--no-autorestart', '--web']);
  assert.equal(warn.status, 3);
  assert.match(warn.stderr, /--web is not supported/);
});

test('SIGUSR2 reaches the apps; an app ignoring its stop signal is killed after kill_timeout (137)', async () => {
  ctx.write(
    'stubborn.js',
    `
process.on('SIGINT', () => console.log('ignoring SIGINT'));
process.on('SIGUSR2', () => console.log('got SIGUSR2'));
console.log('up');
setInterval(() => {}, 1 << 30);
`,
  );
  const r = runtime(['stubborn.js', '--kill-timeout', '500']);
  await waitFor(() => r.stdout.includes('up'), { message: 'the app online' });
  process.kill(r.child.pid, 'SIGUSR2');
  await waitFor(() => r.stdout.includes('got SIGUSR2'), { message: 'SIGUSR2 forwarded' });
  const t0 = Date.now();
  process.kill(r.child.pid, 'SIGTERM');
  const { status } = await r.wait();
  const took = Date.now() - t0;
  assert.equal(status, 137, r.stderr);
  assert.ok(r.stdout.includes('ignoring SIGINT'), 'the stop signal came first');
  assert.ok(took >= 500 && took < 3000, `SIGKILL after kill_timeout: ${took} ms`);
});

test('--delay waits before starting; a stop signal during it ends the runtime at once', async () => {
  const t0 = Date.now();
  const a = runtime(['exit3.js', '--no-autorestart', '--delay', '0.6', '--name', 'late']);
  assert.equal((await a.wait()).status, 3, a.stderr);
  assert.ok(Date.now() - t0 >= 600, `started after the delay: ${Date.now() - t0} ms`);
  const b = runtime(['exit3.js', '--no-autorestart', '--delay', '30', '--name', 'never']);
  // The runtime's home holds the socket once the supervisor serves it.
  await waitFor(() => fs.existsSync(path.join(ctx.home, 'rpc.sock')), { message: 'the supervisor up' });
  const t1 = Date.now();
  process.kill(b.child.pid, 'SIGTERM');
  assert.equal((await b.wait()).status, 0);
  assert.ok(Date.now() - t1 < 3000, 'did not wait out the delay');
  assert.ok(!b.stdout.includes('bye'), 'nothing started');
});
