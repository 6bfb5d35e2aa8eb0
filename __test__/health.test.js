'use strict';
// Knowing an app is healthy, not just alive: liveness probes, a blocked event loop, systemd's
// notify protocol (READY=1, WATCHDOG=1, STATUS=), readiness gating a reload, bad probe config.
// Real apps on 127.0.0.1; each detection is timed against its configured bound.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor, isAlive } = require('./helpers');
const { freePort, get, loadLoop } = require('./http-helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

/** Starts the apps of an ecosystem JSON file written under the fixtures folder. */
function startFile(file, apps) {
  ctx.write(file, JSON.stringify({ apps }));
  return ctx.pm(['start', file]);
}

const one = (name) => ctx.procs(name)[0];

// Serves /health with 200 until the file FAIL_FILE holds this process's pid, then 503.
const HEALTHY_UNTIL_TOLD = `
const http = require('http');
const fs = require('fs');
http.createServer((req, res) => {
  let failing = false;
  try { failing = fs.readFileSync(process.env.FAIL_FILE, 'utf8').trim() === String(process.pid); } catch {}
  res.statusCode = req.url === '/health' && failing ? 503 : 200;
  res.end(String(process.pid));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

test('an HTTP app that starts failing its health endpoint is restarted with reason health', async () => {
  const port = await freePort();
  const failFile = path.join(ctx.apps, 'fail-web');
  ctx.write('web.js', HEALTHY_UNTIL_TOLD);
  const interval = 500;
  const threshold = 3;
  const r = startFile('web.json', [
    {
      name: 'web',
      script: 'web.js',
      env: { PORT: port, FAIL_FILE: failFile },
      health: { http: { port, path: '/health' }, interval, timeout: 400, failure_threshold: threshold },
    },
  ]);
  assert.equal(r.status, 0, r.stderr);
  const [first] = await ctx.online('web');
  await waitFor(() => one('web').pm2_env.health?.status === 'healthy', { message: 'web healthy' });
  const ls = ctx.ok(['ls']).stdout;
  assert.match(ls, /│ health\s+│/, 'a health column once an app has probes');
  assert.match(ls, /│ healthy\s+│/);
  const t0 = Date.now();
  fs.writeFileSync(failFile, String(first.pid));
  const restarted = await waitFor(
    () => {
      const p = one('web');
      return p.pm2_env.restart_time === 1 && p.pid > 0 && p.pid !== first.pid && p;
    },
    { timeout: 15000, interval: 20, message: 'web restarted' },
  );
  const latency = Date.now() - t0;
  ctx.track(restarted.pid);
  assert.equal(restarted.pm2_env.restart_reason, 'health');
  const bound = interval * threshold + interval;
  console.log(`# health detection: ${latency} ms (bound ${bound} ms + restart)`);
  // The restart itself (SIGINT, exit, spawn) comes on top of the bound.
  assert.ok(latency <= bound + 1000, `restarted after ${latency} ms, bound ${bound} ms`);
  const d = ctx.ok(['describe', 'web']).stdout;
  assert.match(d, /restart reason\s*│ health/);
  assert.match(d, /liveness\s*│ http http:\/\/127\.0\.0\.1:\d+\/health/);
  await waitFor(() => one('web').pm2_env.health?.status === 'healthy', { message: 'healthy again' });
  ctx.ok(['delete', 'web']);
});

test('a Node app whose loop is blocked is restarted within max_event_loop_lag + 1 s', async () => {
  const mark = path.join(ctx.apps, 'blocked-at');
  ctx.write(
    'spin.js',
    `
const fs = require('fs');
const once = !fs.existsSync(process.env.MARK);
setInterval(() => {}, 1000);
if (once) setTimeout(() => { fs.writeFileSync(process.env.MARK, String(Date.now())); for (;;) {} }, 500);
`,
  );
  const lag = 2000;
  const r = startFile('spin.json', [{ name: 'spin', script: 'spin.js', env: { MARK: mark }, max_event_loop_lag: '2s' }]);
  assert.equal(r.status, 0, r.stderr);
  const [first] = await ctx.online('spin');
  const blockedAt = await waitFor(() => fs.existsSync(mark) && Number(fs.readFileSync(mark, 'utf8')), {
    message: 'loop blocked',
  });
  const restarted = await waitFor(
    () => {
      const p = one('spin');
      return p.pm2_env.restart_time === 1 && p.pid > 0 && p.pid !== first.pid && p;
    },
    { timeout: 15000, interval: 20, message: 'spin restarted' },
  );
  const latency = Date.now() - blockedAt;
  ctx.track(restarted.pid);
  assert.equal(restarted.pm2_env.restart_reason, 'hang');
  console.log(`# hang detection: ${latency} ms (bound ${lag} ms + 1 s)`);
  assert.ok(latency <= lag + 1000, `restarted ${latency} ms after the loop blocked`);
  // The new process's loop runs freely: no further restart.
  await new Promise((res) => setTimeout(res, lag + 500));
  assert.equal(one('spin').pm2_env.restart_time, 1);
  ctx.ok(['delete', 'spin']);
});

// systemd's protocol from a Python app: the raw datagrams sd_notify(3) sends.
const NOTIFY_APP = `
import os, socket, time
addr = os.environ['NOTIFY_SOCKET']
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def send(m):
    s.sendto(m.encode(), addr)
time.sleep(float(os.environ.get('READY_AFTER', '1')))
open('ready-sent-%d' % os.getpid(), 'w').close()
send('READY=1\\nSTATUS=serving requests\\nMAINPID=%d' % os.getpid())
def stop_pinging():
    try:
        return open('stop-pinging').read().strip() == str(os.getpid())
    except OSError:
        return False
while not stop_pinging():
    send('WATCHDOG=1')
    time.sleep(0.2)
while True:
    time.sleep(1)
`;

test('an sd_notify app is online only after READY=1 and restarted when its watchdog pings stop', async () => {
  ctx.write('notifier.py', NOTIFY_APP);
  const r = startFile('notifier.json', [
    { name: 'notifier', script: 'notifier.py', cwd: ctx.apps, notify: true, watchdog_sec: 1 },
  ]);
  assert.equal(r.status, 0, r.stderr);
  const first = await waitFor(() => one('notifier').pid > 0 && one('notifier'), { message: 'notifier spawned' });
  ctx.track(first.pid);
  const sock = fs.readFileSync(`/proc/${first.pid}/environ`, 'utf8').split('\0').find((kv) => kv.startsWith('NOTIFY_SOCKET='));
  assert.ok(sock, 'the app has a NOTIFY_SOCKET');
  const sockPath = sock.slice('NOTIFY_SOCKET='.length);
  assert.ok(sockPath.startsWith(ctx.home), sockPath);
  assert.equal(fs.statSync(sockPath).mode & 0o777, 0o600);
  const sent = path.join(ctx.apps, `ready-sent-${first.pid}`);
  // Until the app has sent READY=1 it is launching, however long that takes.
  await waitFor(
    () => {
      const p = one('notifier');
      if (!fs.existsSync(sent)) {
        assert.equal(p.pm2_env.status, 'launching');
        return false;
      }
      return true;
    },
    { message: 'READY=1 sent' },
  );
  await ctx.online('notifier');
  const d = ctx.ok(['describe', 'notifier']).stdout;
  assert.match(d, /notify status\s*│ serving requests/);
  assert.match(d, new RegExp(`main pid\\s*│ ${first.pid}`));
  // Pings keep it alive past its watchdog_sec.
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(one('notifier').pm2_env.restart_time, 0);
  const t0 = Date.now();
  fs.writeFileSync(path.join(ctx.apps, 'stop-pinging'), String(first.pid));
  const restarted = await waitFor(
    () => {
      const p = one('notifier');
      return p.pm2_env.restart_time === 1 && p.pid > 0 && p.pid !== first.pid && p;
    },
    { timeout: 10000, interval: 20, message: 'notifier restarted' },
  );
  const latency = Date.now() - t0;
  ctx.track(restarted.pid);
  assert.equal(restarted.pm2_env.restart_reason, 'watchdog');
  console.log(`# watchdog detection: ${latency} ms after the last ping stopped (bound 1000 ms + one ping interval 200 ms)`);
  assert.ok(latency <= 1000 + 200 + 1000, `restarted ${latency} ms after pings stopped`);
  ctx.ok(['delete', 'notifier']);
});

// A forking service as systemd's Type=notify knows them: the started process forks the real
// server, which names itself with MAINPID=, and the parent exits once it has.
const FORKING_APP = `
import os, socket, sys, time
addr = os.environ['NOTIFY_SOCKET']
child = os.fork()
if child:
    sent = 'main-sent-%d' % child
    while not os.path.exists(sent):
        time.sleep(0.02)
    sys.exit(0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(('READY=1\\nMAINPID=%d' % os.getpid()).encode(), addr)
open('main-sent-%d' % os.getpid(), 'w').close()
while True:
    time.sleep(1)
`;

test('MAINPID=: the named process is followed as the app once the started one exits', async () => {
  ctx.write('forking.py', FORKING_APP);
  const r = startFile('forking.json', [{ name: 'forking', script: 'forking.py', cwd: ctx.apps, notify: true }]);
  assert.equal(r.status, 0, r.stderr);
  const started = await waitFor(() => one('forking').pid > 0 && one('forking'), { message: 'forking spawned' });
  ctx.track(started.pid);
  // The parent exits 0 once its child has sent MAINPID; the app stays online under the child.
  const followed = await waitFor(
    () => {
      const p = one('forking');
      return !isAlive(started.pid) && p.pid > 0 && p.pid !== started.pid && p;
    },
    { timeout: 10000, message: 'the main pid is followed' },
  );
  ctx.track(followed.pid);
  assert.ok(fs.existsSync(path.join(ctx.apps, `main-sent-${followed.pid}`)), 'the followed pid is the one that sent MAINPID');
  assert.equal(followed.pm2_env.status, 'online');
  assert.equal(followed.pm2_env.restart_time, 0, 'the parent leaving is no restart');
  // Its end is the app's end: restarted by the policy, and the new launch is followed too.
  process.kill(followed.pid, 'SIGKILL');
  const again = await waitFor(
    () => {
      const p = one('forking');
      return p.pm2_env.restart_time === 1 && p.pid > 0 && p.pid !== followed.pid && fs.existsSync(path.join(ctx.apps, `main-sent-${p.pid}`)) && p;
    },
    { timeout: 10000, message: 'restarted and followed again' },
  );
  ctx.track(again.pid);
  // A stop reaches the followed process.
  ctx.ok(['stop', 'forking']);
  await waitFor(() => !isAlive(again.pid), { timeout: 5000, message: 'the followed process stopped' });
  assert.equal(one('forking').pm2_env.status, 'stopped');
  ctx.ok(['delete', 'forking']);
});

test('an app that writes nothing for no_output_timeout is restarted with reason no_output', async () => {
  // Talks for a while, then falls silent.
  ctx.write('quiet.sh', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.2; done\nexec sleep 600\n');
  const r = startFile('quiet.json', [{ name: 'quiet', script: 'quiet.sh', no_output_timeout: 1 }]);
  assert.equal(r.status, 0, r.stderr);
  const [first] = await ctx.online('quiet');
  const restarted = await waitFor(
    () => {
      const p = one('quiet');
      return p.pm2_env.restart_time === 1 && p.pid > 0 && p.pid !== first.pid && p;
    },
    { timeout: 10000, message: 'quiet restarted' },
  );
  ctx.track(restarted.pid);
  assert.equal(restarted.pm2_env.restart_reason, 'no_output');
  // It talked for ~1.8 s, then was silent for 1 s: not restarted while it talked.
  const ran = restarted.pm2_env.pm_uptime - first.pm2_env.pm_uptime;
  assert.ok(ran >= 2500, `restarted after ${ran} ms, while it was still writing`);
  ctx.ok(['delete', 'quiet']);
});

test('bad probe configuration is one clear line at start and starts nothing', () => {
  ctx.write('idle.js', 'setInterval(() => {}, 1000);');
  const cases = [
    [{ health: { grpc: { port: 1 } } }, /app bad: health: unknown key "grpc"/],
    [{ health: { tcp: { port: 1 }, interval: -1 } }, /app bad: health\.interval: -1 is not a duration/],
    [{ health: { http: { port: 1 }, interval: '1ms' } }, /out of range/],
    [{ health: { exec: 'true', failure_threshold: 0 } }, /failure_threshold: 0 is not a count/],
    [{ max_event_loop_lag: 'soon' }, /max_event_loop_lag: "soon" is not a duration/],
  ];
  for (const [extra, re] of cases) {
    const r = startFile('bad.json', [{ name: 'bad', script: 'idle.js', ...extra }]);
    assert.notEqual(r.status, 0, JSON.stringify(extra));
    const lines = r.stderr.trim().split('\n').filter((l) => /health|lag|threshold|range/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(ctx.procs('bad').length, 0, 'nothing started');
  }
});

test('a reload whose new release never gets ready stops, keeps the old instances serving, exits non-zero', async () => {
  const port = await freePort();
  // The release is read at start: "good" listens and marks itself ready; "bad" never does.
  ctx.write(
    'rel.js',
    `
const http = require('http');
const fs = require('fs');
const release = fs.readFileSync('release.txt', 'utf8').trim();
if (release === 'good') {
  http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, release }))).listen(Number(process.env.PORT), '127.0.0.1', () => {
    fs.writeFileSync('ready-' + process.pid, '');
  });
} else {
  setInterval(() => {}, 1000);
}
`,
  );
  fs.writeFileSync(path.join(ctx.apps, 'release.txt'), 'good');
  const r = startFile('rel.json', [
    {
      name: 'rel',
      script: 'rel.js',
      cwd: ctx.apps,
      instances: 2,
      exec_mode: 'fork',
      env: { PORT: port },
      listen_timeout: 2000,
      readiness: { exec: 'test -f "ready-$PM_PID"', interval: 100, timeout: 1000 },
    },
  ]);
  assert.equal(r.status, 0, r.stderr);
  const before = await ctx.online('rel', { count: 2 });
  await waitFor(() => get(port).then(() => true, () => false), { message: 'rel answering' });
  // A good release rolls through.
  const good = await ctx.pmAsync(['reload', 'rel']);
  assert.equal(good.status, 0, good.stderr);
  const mid = await ctx.online('rel', { count: 2 });
  for (const p of mid) assert.ok(!before.some((b) => b.pid === p.pid), 'new pids after a good reload');
  // A bad one stops at the first instance; the old ones keep serving, no request fails.
  fs.writeFileSync(path.join(ctx.apps, 'release.txt'), 'bad');
  const load = loadLoop(port, { loops: 4 });
  let bad;
  try {
    bad = await ctx.pmAsync(['reload', 'rel']);
  } finally {
    await load.stop();
  }
  assert.notEqual(bad.status, 0, bad.stdout);
  assert.match(bad.stderr, /reload of rel stopped: its new process \(pid \d+\) was not ready within listen_timeout \(2000 ms\)/);
  assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.errors.slice(0, 5).join(', ')}`);
  assert.ok(load.stats.ok > 50, `only ${load.stats.ok} requests went through`);
  const after = await ctx.online('rel', { count: 2 });
  assert.deepEqual(
    after.map((p) => p.pid).sort(),
    mid.map((p) => p.pid).sort(),
    'the old processes still run',
  );
  const answer = await get(port);
  assert.equal(answer.release, 'good');
  ctx.ok(['delete', 'rel']);
});

for (const mode of ['cluster', 'fork']) {
  test(`a readiness probe of the port the instances share judges the new process, not the old ones (${mode} mode)`, async () => {
    const port = await freePort();
    // Every release listens; only "good" answers /health with 200. Without a private probe port
    // per process, the probe of the shared port would mostly reach the old instances and pass.
    ctx.write(
      `shared-${mode}.js`,
      `
  const http = require('http');
  const fs = require('fs');
  const release = fs.readFileSync('${mode}-release.txt', 'utf8').trim();
  http.createServer((req, res) => {
    res.statusCode = req.url === '/health' && release !== 'good' ? 503 : 200;
    res.end(JSON.stringify({ pid: process.pid, release }));
  }).listen(Number(process.env.PORT));
  `,
    );
    fs.writeFileSync(path.join(ctx.apps, `${mode}-release.txt`), 'good');
    const r = startFile(`shared-${mode}.json`, [
      {
        name: `shared-${mode}`,
        script: `shared-${mode}.js`,
        cwd: ctx.apps,
        instances: 2,
        exec_mode: mode,
        env: { PORT: port },
        listen_timeout: 2000,
        readiness: { http: { port, path: '/health' }, interval: 100, timeout: 1000 },
      },
    ]);
    assert.equal(r.status, 0, r.stderr);
    const before = await ctx.online(`shared-${mode}`, { count: 2 });
    for (const p of before) assert.equal(p.pm2_env.health.readiness.ok, true, 'each instance judged ready');
    const good = await ctx.pmAsync(['reload', `shared-${mode}`]);
    assert.equal(good.status, 0, good.stderr);
    const mid = await ctx.online(`shared-${mode}`, { count: 2 });
    for (const p of mid) assert.ok(!before.some((b) => b.pid === p.pid), 'new pids after a good reload');
    fs.writeFileSync(path.join(ctx.apps, `${mode}-release.txt`), 'bad');
    const load = loadLoop(port, { loops: 4 });
    let bad;
    try {
      bad = await ctx.pmAsync(['reload', `shared-${mode}`]);
    } finally {
      await load.stop();
    }
    assert.notEqual(bad.status, 0, `a bad release passed the probe of the shared port: ${bad.stdout}`);
    assert.match(bad.stderr, new RegExp(`reload of shared-${mode} stopped: its new process \\(pid \\d+\\) was not ready within listen_timeout`));
    assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.errors.slice(0, 5).join(', ')}`);
    const after = await ctx.online(`shared-${mode}`, { count: 2 });
    assert.deepEqual(after.map((p) => p.pid).sort(), mid.map((p) => p.pid).sort(), 'the old processes still run');
    assert.equal((await get(port)).release, 'good');
    ctx.ok(['delete', `shared-${mode}`]);
  });
}

test('depends_on orders starts (started, healthy), stops dependants first, and refuses cycles', async () => {
  const port = await freePort();
  const stamps = path.join(ctx.apps, 'stamps');
  fs.mkdirSync(stamps, { recursive: true });
  // Notes when it started and when it was asked to stop; `db` listens only after a second.
  ctx.write(
    'dep.js',
    `
const fs = require('fs');
const path = require('path');
const note = (what) => fs.writeFileSync(path.join(process.env.STAMPS, process.env.name + '-' + what), String(Date.now()));
note('start');
if (process.env.PORT) {
  setTimeout(() => require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => note('listen')), 1000);
}
setInterval(() => {}, 1000);
process.on('SIGINT', () => { note('stop'); setTimeout(() => process.exit(0), 100); });
`,
  );
  const env = { STAMPS: stamps };
  const r = startFile('deps.json', [
    { name: 'web', script: 'dep.js', env, depends_on: ['api'] },
    { name: 'api', script: 'dep.js', env, depends_on: [{ name: 'db', condition: 'healthy' }] },
    { name: 'db', script: 'dep.js', env: { ...env, PORT: port }, health: { http: { port }, interval: 200 } },
  ]);
  assert.equal(r.status, 0, r.stderr);
  for (const n of ['web', 'api', 'db']) await ctx.online(n);
  const t = (n, what) => Number(fs.readFileSync(path.join(stamps, `${n}-${what}`), 'utf8'));
  const stamped = (n, what) => waitFor(() => fs.existsSync(path.join(stamps, `${n}-${what}`)), { message: `${n} ${what}` });
  for (const n of ['web', 'api', 'db']) await stamped(n, 'start');
  assert.ok(t('db', 'listen') <= t('api', 'start'), 'api started once db was healthy');
  // `started`: the dependency's process was launched first (not necessarily running its code).
  assert.ok(one('api').pm2_env.pm_uptime <= one('web').pm2_env.pm_uptime, 'web launched after api');
  const stop = ctx.pm(['stop', 'deps.json']);
  assert.equal(stop.status, 0, stop.stderr);
  for (const n of ['web', 'api', 'db']) await stamped(n, 'stop');
  assert.ok(t('web', 'stop') < t('api', 'stop'), 'web stopped before api');
  assert.ok(t('api', 'stop') < t('db', 'stop'), 'api stopped before db');
  ctx.ok(['delete', 'deps.json']);

  const cyc = startFile('cycle.json', [
    { name: 'ca', script: 'dep.js', env, depends_on: ['cb'] },
    { name: 'cb', script: 'dep.js', env, depends_on: ['ca'] },
  ]);
  assert.notEqual(cyc.status, 0);
  assert.match(cyc.stderr, /depends_on: cycle ca → cb → ca/);
  const unknown = startFile('unknown.json', [{ name: 'cu', script: 'dep.js', env, depends_on: ['ghost'] }]);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /app cu: depends_on: no app named "ghost"/);
  assert.equal(ctx.jlist().filter((p) => ['ca', 'cb', 'cu'].includes(p.name)).length, 0, 'nothing started');
});

test('a scale-up of an app with a readiness gate answers once the new instances are ready, non-zero when they are not', async () => {
  ctx.write(
    'sc.js',
    `
const fs = require('fs');
setInterval(() => {}, 1000);
if (fs.readFileSync('sc-release.txt', 'utf8').trim() === 'good') setTimeout(() => fs.writeFileSync('ready-' + process.pid, ''), 300);
`,
  );
  fs.writeFileSync(path.join(ctx.apps, 'sc-release.txt'), 'good');
  const r = startFile('sc.json', [
    {
      name: 'sc',
      script: 'sc.js',
      cwd: ctx.apps,
      listen_timeout: 1500,
      readiness: { exec: 'test -f "ready-$PM_PID"', interval: 100 },
    },
  ]);
  assert.equal(r.status, 0, r.stderr);
  await ctx.online('sc');
  const up = ctx.pm(['scale', 'sc', '+1']);
  assert.equal(up.status, 0, up.stderr);
  // Answered once ready: both are online as soon as scale returns.
  const now = ctx.procs('sc');
  assert.equal(now.length, 2);
  assert.ok(now.every((p) => p.pm2_env.status === 'online'), JSON.stringify(now.map((p) => p.pm2_env.status)));
  for (const p of now) ctx.track(p.pid);
  fs.writeFileSync(path.join(ctx.apps, 'sc-release.txt'), 'bad');
  const bad = ctx.pm(['scale', 'sc', '+1']);
  assert.notEqual(bad.status, 0, bad.stdout);
  assert.match(bad.stderr, /scale of sc: instance\(s\) \d+ not ready within listen_timeout \(1500 ms\); they keep starting/);
  const after = ctx.procs('sc');
  assert.equal(after.length, 3);
  assert.equal(after.filter((p) => p.pm2_env.status === 'launching').length, 1);
  for (const p of after) ctx.track(p.pid);
  ctx.ok(['delete', 'sc']);
});
