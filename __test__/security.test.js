'use strict';
// Who may talk to the daemon, the modes of what it creates, secrets kept out of what people
// read and out of command lines, and apps run as another user. Real users (useradd as root,
// userdel after), real sockets, real files.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { makeCtx, waitFor, isAlive, cmdline, environ, BIN, ROOT } = require('./helpers');

const ROOT_USER = process.getuid() === 0;
const contexts = [];
const users = [];

function ctxFor() {
  const ctx = makeCtx();
  contexts.push(ctx);
  return ctx;
}

after(() => {
  for (const c of contexts) c.cleanup();
  for (const u of users) u.remove();
});

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

/**
 * A second user (and a group of its own it is a supplementary member of), removed at the end.
 * Needs root: without it the tests that use one fail here, loudly, rather than pass unchecked.
 */
function testUser() {
  assert.ok(ROOT_USER, 'this test creates a second user with useradd: run it as root (CI does)');
  const tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const name = `pmt${tag}`.slice(0, 30);
  const group = `pmg${tag}`.slice(0, 30);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-user-'));
  run('groupadd', [group]);
  run('useradd', ['-M', '-d', home, '-s', '/bin/sh', '-G', group, name]);
  fs.chmodSync(home, 0o755);
  const uid = Number(run('id', ['-u', name]).trim());
  const gid = Number(run('id', ['-g', name]).trim());
  const extra = Number(run('getent', ['group', group]).split(':')[2]);
  const u = {
    name,
    group,
    uid,
    gid,
    extra,
    home,
    remove() {
      spawnSync('userdel', [name]);
      spawnSync('groupdel', [group]);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
  fs.chownSync(home, uid, gid);
  users.push(u);
  return u;
}

/** One length-prefixed JSON frame, as src/protocol/frame.rs writes it. */
function frame(obj) {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function mode(p) {
  return fs.statSync(p).mode & 0o777;
}

function daemonLog(ctx) {
  try {
    return fs.readFileSync(path.join(ctx.home, 'pm.log'), 'utf8');
  } catch {
    return '';
  }
}

test('another user is refused on rpc.sock even with the socket opened up to everyone', async () => {
  const ctx = ctxFor();
  ctx.ok(['start', ctx.app('idle.js'), '--name', 'kept']);
  const [before] = await ctx.online('kept');
  const daemon = ctx.daemonPid();
  const u = testUser();
  // The test, not the daemon, opens the way: only the peer check stands between them.
  fs.chmodSync(ctx.home, 0o777);
  fs.chmodSync(ctx.apps, 0o755);
  fs.chmodSync(path.join(ctx.home, 'rpc.sock'), 0o777);

  // A raw client: a hello, then a kill and a start; the daemon must answer nothing at all.
  const client = ctx.write(
    'knock.js',
    `const net = require('net');
const frame = (o) => { const b = Buffer.from(JSON.stringify(o)); const h = Buffer.alloc(4); h.writeUInt32BE(b.length); return Buffer.concat([h, b]); };
const s = net.connect(process.argv[2]);
let got = 0;
s.on('connect', () => {
  s.write(frame({ verb: 'hello', protocol: 0, version: 'x' }));
  s.write(frame({ verb: 'kill' }));
});
s.on('data', (d) => (got += d.length));
s.on('error', () => {});
s.on('close', () => { console.log(JSON.stringify({ got })); });
`,
  );
  const r = spawnSync(process.execPath, [client, path.join(ctx.home, 'rpc.sock')], {
    uid: u.uid,
    gid: u.gid,
    encoding: 'utf8',
    timeout: 20000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { got: 0 }, 'the refused peer read not one byte');

  // The CLI as that user: one readable line, non-zero, and nothing done.
  const cli = spawnSync(BIN, ['stop', 'all'], {
    uid: u.uid,
    gid: u.gid,
    env: { PATH: process.env.PATH, PM_HOME: ctx.home, HOME: u.home },
    cwd: '/',
    encoding: 'utf8',
    timeout: 20000,
  });
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /belongs to uid 0; only that user and root may use it/);
  assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);

  await waitFor(() => daemonLog(ctx).includes(`refused a connection from uid ${u.uid}`), {
    message: 'the refusal in pm.log',
  });

  // The fd keeper hands out every app's pipes on `take`: it checks its peer the same way.
  // Its socket is SOCK_SEQPACKET, which Node cannot open; Python can.
  fs.chmodSync(path.join(ctx.home, 'keeper.sock'), 0o777);
  const take = spawnSync(
    'python3',
    [
      '-c',
      `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.send(b"take\\n")
    got = s.recv(4096)
except OSError:
    got = b""
print(len(got))`,
      path.join(ctx.home, 'keeper.sock'),
    ],
    { uid: u.uid, gid: u.gid, encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(take.status, 0, take.stderr);
  assert.equal(take.stdout.trim(), '0', 'the keeper gave the refused peer nothing');
  await waitFor(() => daemonLog(ctx).includes(`fd keeper: refused a connection from uid ${u.uid}`), {
    message: "the keeper's refusal in pm.log",
  });
  assert.equal(ctx.daemonPid(), daemon);
  assert.ok(isAlive(daemon), 'the daemon lives');
  const [now] = ctx.procs('kept');
  assert.equal(now.pm2_env.status, 'online');
  assert.equal(now.pid, before.pid, 'the app was not touched');
  assert.equal(now.pm2_env.restart_time, 0);
});

test('the home, sockets, pid files, dump, settings and logs are created with their modes', async () => {
  const ctx = ctxFor();
  // The daemon must create its home itself, and under a umask that takes nothing away, so
  // each mode below is the one the code asked for.
  fs.rmdirSync(ctx.home);
  const old = process.umask(0);
  try {
    ctx.ok(['start', ctx.app('logger.js'), '--name', 'logs']);
    const ready = ctx.write(
      'notify.js',
      `const d = require('dgram'); setInterval(() => {}, 1 << 30);\n`,
    );
    const eco = ctx.write(
      'notify.config.js',
      `module.exports = { apps: [{ name: 'notified', script: ${JSON.stringify(ready)}, notify: true, listen_timeout: 60000 }] };`,
    );
    ctx.ok(['start', eco]);
    await ctx.online('logs');
    ctx.ok(['save']);
    ctx.ok(['save']); // the second save keeps the first as dump.pm2.bak
    ctx.ok(['set', 'pm-native-test:key', 'value']);
    const { queue } = require('..');
    const q = queue('modes', { home: ctx.home });
    await q.push({ n: 1 });
    await q.close();
  } finally {
    process.umask(old);
  }
  const [p] = ctx.procs('logs');
  const h = (f) => path.join(ctx.home, f);
  const want = {
    [ctx.home]: 0o700,
    [h('rpc.sock')]: 0o600,
    [h('pm.pid')]: 0o600,
    [h('pm2.pid')]: 0o600,
    [p.pm2_env.pm_pid_path]: 0o600,
    [h('dump.pm2')]: 0o600,
    [h('dump.pm2.bak')]: 0o600,
    [h('module_conf.json')]: 0o600,
    [h('queues.journal')]: 0o600,
    [h('pm.log')]: 0o640,
    [p.pm2_env.pm_out_log_path]: 0o640,
    [p.pm2_env.pm_err_log_path]: 0o640,
  };
  await waitFor(() => fs.existsSync(p.pm2_env.pm_err_log_path), { message: 'the error log' });
  const notify = await waitFor(() => fs.readdirSync(h('notify')).filter((f) => f.endsWith('.sock')), {
    message: 'the notify socket',
  });
  assert.equal(mode(h('notify')), 0o700);
  for (const f of notify) want[path.join(h('notify'), f)] = 0o600;
  const got = Object.fromEntries(Object.keys(want).map((f) => [f, mode(f)]));
  const asOctal = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.toString(8)]));
  assert.deepEqual(asOctal(got), asOctal(want));
});

/** GET on loopback: { status, body }. */
function get(url) {
  return new Promise((resolve, reject) => {
    require('node:http')
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

const SECRET_VALUES = ['tok-abc123', 'hunter2pw', 'lic-7788xyz'];

function assertMasked(what, text) {
  for (const v of SECRET_VALUES) assert.ok(!text.includes(v), `${what} shows ${v}:\n${text}`);
  assert.ok(text.includes('***'), `${what} shows no mask:\n${text}`);
}

test('secrets are masked wherever a person reads them; the app and jlist get them whole', async () => {
  const ctx = ctxFor();
  const { freePort } = require('./http-helpers');
  const out = path.join(ctx.apps, 'seen.json');
  const env = {
    API_TOKEN: 'tok-abc123',
    DATABASE_URL: 'postgres://app:hunter2pw@db:5432/x',
    LICENSE_CODE: 'lic-7788xyz',
    DUMP_FILE: out,
  };
  // The name and an argument carry secret values too: they are masked inside other text.
  ctx.ok(
    ['start', ctx.app('dump.js'), '--name', 'svc-tok-abc123', '--secret', 'LICENSE_CODE', '--', '--license=lic-7788xyz'],
    { env },
  );
  const [p] = await ctx.online('svc-tok-abc123');
  const seen = await waitFor(() => fs.existsSync(out) && JSON.parse(fs.readFileSync(out, 'utf8')), {
    message: 'the app reporting its env',
  });
  for (const k of ['API_TOKEN', 'DATABASE_URL', 'LICENSE_CODE']) assert.equal(seen.env[k], env[k], k);
  assert.deepEqual(seen.argv, ['--license=lic-7788xyz']);

  // Scripts parse these: pm2's full env, reachable only through the 0600 socket.
  for (const verb of ['jlist', 'prettylist']) {
    const text = ctx.ok([verb]).stdout;
    for (const v of SECRET_VALUES) assert.ok(text.includes(v), `${verb} keeps ${v}`);
  }

  const describe = ctx.ok(['describe', String(p.pm_id)]).stdout;
  assertMasked('describe', describe);
  assert.match(describe, /svc-\*\*\*/);
  assert.match(describe, /--license=\*\*\*/);

  const envOut = ctx.ok(['env', String(p.pm_id)]).stdout;
  assertMasked('pm env', envOut);
  assert.match(envOut, /^API_TOKEN: \*\*\*$/m);
  assert.match(envOut, /^LICENSE_CODE: \*\*\*$/m);
  assert.match(envOut, /^DATABASE_URL: postgres:\/\/app:\*\*\*@db:5432\/x$/m);

  const report = ctx.ok(['report'], { env: { STRIPE_KEY: 'tok-abc123', REDIS_URL: 'redis://:hunter2pw@r:6379' } }).stdout;
  assertMasked('report', report);
  assert.match(report, /^STRIPE_KEY=\*\*\*$/m);
  assert.match(report, /^REDIS_URL=redis:\/\/:\*\*\*@r:6379$/m);

  const ls = ctx.ok(['ls']).stdout;
  assert.ok(!ls.includes('hunter2pw'));

  const metricsPort = await freePort();
  const metricsToken = /Bearer ([0-9a-f]{32})/.exec(ctx.ok(['metrics', '--port', String(metricsPort)]).stdout)[1];
  const metrics = await waitFor(async () => {
    const r = await get(`http://127.0.0.1:${metricsPort}/metrics?token=${metricsToken}`).catch(() => null);
    return r && r.status === 200 && r.body;
  }, { message: '/metrics' });
  assertMasked('/metrics', metrics);
  assert.match(metrics, /name="svc-\*\*\*"/);

  const dashPort = await freePort();
  const url = ctx.ok(['dashboard', '--port', String(dashPort)]).stdout.trim();
  const token = new URL(url).searchParams.get('token');
  const list = await waitFor(async () => {
    const r = await get(`http://127.0.0.1:${dashPort}/api/list?token=${token}`).catch(() => null);
    return r && r.status === 200 && r.body;
  }, { message: 'the dashboard list' });
  assertMasked('dashboard', list);
});

test("the daemon's log names an app without its secrets", async () => {
  const ctx = ctxFor();
  // A spawn that fails is logged with the app's name: the name holds a secret value and a URL
  // password.
  ctx.pm(
    ['start', ctx.app('idle.js'), '--name', 'db-tok-abc123', '--interpreter', '/nonexistent/interp'],
    { env: { DB_PASSWORD: 'tok-abc123' } },
  );
  await waitFor(() => /spawn \/nonexistent\/interp failed/.test(daemonLog(ctx)), { message: 'the spawn error in pm.log' });
  const log = daemonLog(ctx);
  assert.ok(!log.includes('tok-abc123'), log);
  assert.match(log, /db-\*\*\*/);
});

test('no command line of an app holds an env value', async () => {
  const ctx = ctxFor();
  const marker = 'envvalue-9f3c1e';
  ctx.ok(['start', ctx.app('idle.js'), '--name', 'argv-node'], { env: { SOME_VALUE: marker } });
  ctx.ok(['start', 'sleep', '--name', 'argv-bin', '--', '1000'], { env: { SOME_VALUE: marker } });
  const procs = [...(await ctx.online('argv-node')), ...(await ctx.online('argv-bin'))];
  for (const p of procs) {
    assert.equal(environ(p.pid).SOME_VALUE, marker, 'the app has the variable');
    const argv = cmdline(p.pid);
    assert.ok(argv.length > 0);
    for (const a of argv) assert.ok(!a.includes(marker), `${p.name}: ${argv.join(' ')}`);
  }
  const daemon = ctx.daemonPid();
  for (const a of cmdline(daemon)) assert.ok(!a.includes(marker));
});

test("an ecosystem file's secrets list is masked; a bad one is one line and starts nothing", async () => {
  const ctx = ctxFor();
  const eco = ctx.write(
    'secrets.config.js',
    `module.exports = { apps: [{ name: 'eco-secret', script: ${JSON.stringify(ctx.app('idle.js'))}, secrets: ['LICENSE_CODE'], env: { LICENSE_CODE: 'lic-7788xyz' } }] };`,
  );
  const started = ctx.ok(['start', eco]);
  assert.ok(!/secrets/.test(started.stderr), `no warning about secrets: ${started.stderr}`);
  const [p] = await ctx.online('eco-secret');
  assertMasked('pm env', ctx.ok(['env', String(p.pm_id)]).stdout);
  const bad = ctx.write(
    'bad-secrets.config.js',
    `module.exports = { apps: [{ name: 'bad-secret', script: ${JSON.stringify(ctx.app('idle.js'))}, secrets: 5 }] };`,
  );
  const r = ctx.pm(['start', bad]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /secrets must be a list of variable names/);
  assert.equal(ctx.procs('bad-secret').length, 0);
});

test('uid/gid: as root an app runs as that user, with its groups, HOME/USER/LOGNAME, logs and preload', async () => {
  const ctx = ctxFor();
  const u = testUser();
  fs.chmodSync(ctx.apps, 0o755);
  const who = ctx.write(
    'who.js',
    `const fs = require('fs');
const out = process.env.WHO_FILE;
fs.writeFileSync(out + '.tmp', JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
  HOME: process.env.HOME, USER: process.env.USER, LOGNAME: process.env.LOGNAME, send: typeof process.send,
  loaded: Object.keys(require.cache) }));
fs.renameSync(out + '.tmp', out);
console.log('hello from ' + process.getuid());
setInterval(() => {}, 1 << 30);
`,
  );
  const notifier = ctx.write(
    'ready.py',
    `import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])
time.sleep(1000)
`,
  );
  const byName = path.join(u.home, 'by-name.json');
  const byNumber = path.join(u.home, 'by-number.json');
  const eco = ctx.write(
    'uid.config.js',
    `module.exports = { apps: [
  { name: 'as-user', script: ${JSON.stringify(who)}, uid: ${JSON.stringify(u.name)}, env: { WHO_FILE: ${JSON.stringify(byName)} } },
  { name: 'as-user-cluster', script: ${JSON.stringify(who)}, uid: ${u.uid}, exec_mode: 'cluster', instances: 1, env: { WHO_FILE: ${JSON.stringify(path.join(u.home, 'cluster.json'))} } },
  { name: 'as-user-notify', script: ${JSON.stringify(notifier)}, interpreter: 'python3', user: ${JSON.stringify(u.name)}, notify: true, listen_timeout: 20000 },
] };`,
  );
  const r = ctx.ok(['start', eco]);
  assert.ok(!/uid|gid/.test(r.stderr), `no "ignored" warning: ${r.stderr}`);
  ctx.ok(['start', who, '--name', 'as-number', '--uid', String(u.uid), '--gid', u.group], { env: { WHO_FILE: byNumber } });
  const [a] = await ctx.online('as-user');
  await ctx.online('as-number');
  const seen = await waitFor(() => fs.existsSync(byName) && JSON.parse(fs.readFileSync(byName, 'utf8')), { message: 'as-user reporting' });
  assert.equal(seen.uid, u.uid);
  assert.equal(seen.gid, u.gid);
  assert.ok(seen.groups.includes(u.extra), `supplementary group ${u.extra} in ${seen.groups}`);
  assert.ok(!seen.groups.includes(0), `root's group is dropped: ${seen.groups}`);
  assert.deepEqual([seen.HOME, seen.USER, seen.LOGNAME], [u.home, u.name, u.name]);
  assert.equal(seen.send, 'function', 'the IPC channel works');
  const num = await waitFor(() => fs.existsSync(byNumber) && JSON.parse(fs.readFileSync(byNumber, 'utf8')), { message: 'as-number reporting' });
  assert.equal(num.uid, u.uid);
  assert.equal(num.gid, u.extra, '--gid names the group');
  await ctx.online('as-user-cluster');
  const worker = await waitFor(() => {
    const f = path.join(u.home, 'cluster.json');
    return fs.existsSync(f) && JSON.parse(fs.readFileSync(f, 'utf8'));
  }, { message: 'the cluster worker reporting' });
  assert.deepEqual([worker.uid, worker.gid, worker.HOME], [u.uid, u.gid, u.home]);
  // The logs are written by the daemon, which holds the pipes.
  await waitFor(() => fs.readFileSync(a.pm2_env.pm_out_log_path, 'utf8').includes(`hello from ${u.uid}`), {
    message: 'the app line in its out log',
  });
  assert.equal(a.pm2_env.username, u.name);
  // The preload ran though the home is not readable by the app: from a root-owned copy.
  const preload = seen.loaded.find((f) => f.endsWith('/app-preload.js'));
  assert.ok(preload && !preload.startsWith(ctx.home), `the preload, from outside the home: ${seen.loaded}`);
  assert.equal(fs.statSync(preload).uid, 0);
  assert.equal(mode(preload), 0o644);
  // Its notify socket is reachable by it: READY=1 makes it online.
  const [n] = await ctx.online('as-user-notify', { timeout: 20000 });
  assert.equal(fs.statSync(`/proc/${n.pid}`).uid, u.uid);

  const bad = ctx.pm(['start', who, '--name', 'nobody-such', '--uid', 'no-such-user-pmtest']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /uid no-such-user-pmtest: no such user/);
  assert.equal(ctx.procs('nobody-such').length, 0);
  // The copy goes with the daemon.
  ctx.ok(['kill']);
  assert.ok(!fs.existsSync(path.dirname(preload)), `${path.dirname(preload)} removed at exit`);
});

test('uid/gid: a daemon that is not root refuses them in one line and starts nothing', async () => {
  const u = testUser();
  const home = path.join(u.home, 'pm-home');
  const asUser = (args) =>
    spawnSync(BIN, args, {
      uid: u.uid,
      gid: u.gid,
      env: { PATH: process.env.PATH, PM_HOME: home, HOME: u.home },
      cwd: u.home,
      encoding: 'utf8',
      timeout: 20000,
    });
  try {
    fs.writeFileSync(path.join(u.home, 'idle.js'), 'setInterval(() => {}, 1 << 30);\n');
    const r = asUser(['start', path.join(u.home, 'idle.js'), '--name', 'wants-root', '--uid', 'root']);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /needs the daemon to run as root; it runs as uid \d+/);
    const list = JSON.parse(asUser(['jlist']).stdout);
    assert.deepEqual(list, []);
  } finally {
    asUser(['kill']);
  }
});
