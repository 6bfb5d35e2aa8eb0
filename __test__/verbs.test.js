'use strict';
// pm2's smaller verbs (id, env, inspect, trigger, slist, report, ecosystem, the pm2.io ones) and
// the options pm2 tolerates (extra operands, --no-pmx, --parallel, ...) or that must now work
// (--no-autostart, --no-treekill, filter_env), against a private daemon. Expected lines are
// pm2 7.0.4's, captured from `pm2` run in a temporary PM2_HOME.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor, isAlive, lines } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const WARN = (name) => `[PM2][WARN] option ${name} is not supported yet and is ignored`;

test('pm --help gives every verb a description', () => {
  const r = ctx.ok(['--help']);
  const help = lines(r.stdout);
  assert.match(help[0], /^Usage: pm /);
  const from = help.indexOf('Commands:');
  assert.ok(from >= 0, r.stdout);
  const verbs = [];
  for (const line of help.slice(from + 1)) {
    if (!line.startsWith('  ')) break;
    verbs.push(line.trim());
  }
  for (const v of ['env', 'id', 'inspect', 'trigger', 'report', 'slist', 'link', 'plus', 'open', 'stop', 'jlist', 'attach']) {
    const row = verbs.find((l) => l.split(/\s+/)[0] === v);
    assert.ok(row, `${v} missing from --help`);
  }
  for (const row of verbs) assert.ok(row.split(/\s{2,}/).length >= 2, `no description: "${row}"`);
});

test('id <name> prints the ids as pm2 does', async () => {
  ctx.ok(['start', ctx.app('idle.js'), '--name', 'pair', '-i', '2']);
  await ctx.online('pair', { count: 2 });
  assert.equal(ctx.ok(['id', 'pair']).stdout, '[ 0, 1 ]\n');
  assert.equal(ctx.ok(['id', 'nope']).stdout, '[]\n');
  // pm2 matches names only: an id is not a name.
  assert.equal(ctx.ok(['id', '0']).stdout, '[]\n');
});

test('sendSignal ignores extra operands, as pm2 does', () => {
  const r = ctx.pm(['sendSignal', 'SIGUSR2', 'pair', '0']);
  assert.equal(r.status, 0, r.stderr);
});

test('env <id> lists the process environment; an unknown id fails', async () => {
  const dump = path.join(ctx.apps, 'env.json');
  ctx.ok(['start', ctx.app('dump.js'), '--name', 'envapp'], { env: { DUMP_FILE: dump, VERBS_MARK: 'seen' } });
  const [p] = await ctx.online('envapp');
  const out = lines(ctx.ok(['env', String(p.pm_id)]).stdout);
  assert.ok(out.includes('VERBS_MARK: seen'), out.join('\n'));
  assert.ok(out.includes(`unique_id: ${p.pm2_env.unique_id}`));
  assert.equal(out[out.length - 1], 'namespace: default');
  for (const hidden of ['name', 'pm_id', 'status', 'env', 'exec_mode', 'autorestart']) {
    assert.ok(!out.some((l) => l.startsWith(`${hidden}: `)), `${hidden} shown`);
  }
  const r = ctx.pm(['env', '99']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, '[PM2][ERROR] Modules with id 99 not found\n');
});

test('inspect and trigger answer with pm2 lines (no @pm2/io agent)', () => {
  const i = ctx.pm(['inspect', 'pair']);
  assert.equal(i.status, 0, i.stderr);
  assert.equal(i.stdout, 'Unable to activate inspect mode on pair !!!\n');
  const t = ctx.pm(['trigger', 'pair', 'refresh', 'x']);
  assert.equal(t.status, 1);
  assert.equal(t.stdout, '');
  assert.equal(t.stderr, 'Not any process has received a command (offline or unexistent)\n');
});

test('trigger calls an @pm2/io action and prints each reply as pm2 does; describe lists the actions', async () => {
  const io = JSON.stringify(require('node:path').join(__dirname, '..', 'node_modules', '@pm2', 'io'));
  const app = ctx.write('actions.js', `const io = require(${io});
io.action('ping', (reply) => reply({ pong: 'hehe' }));
io.action('echo', (data, reply) => reply({ got: data }));
setInterval(() => {}, 1000);
`);
  // @pm2/io also registers its own km:* profiling actions; the app's are the custom ones.
  const custom = (p) => p.pm2_env.axm_actions.filter((a) => a.action_type === 'custom').map((a) => a.action_name);
  ctx.ok(['start', app, '--name', 'acts', '-i', '2']);
  await waitFor(() => {
    const ps = ctx.procs('acts');
    return ps.length === 2 && ps.every((p) => p.pm2_env.status === 'online' && custom(p).join() === 'ping,echo');
  }, { message: 'both instances registered their actions' });
  const ids = ctx.procs('acts').map((p) => p.pm_id);
  const t = ctx.ok(['trigger', 'acts', 'echo', 'hello', 'world']);
  assert.match(t.stdout, /^2 processes have received command echo\n/);
  for (const id of ids) assert.ok(t.stdout.includes(`[acts:${id}:default]={"got":"hello world"}\n`), t.stdout);
  const one = ctx.ok(['trigger', String(ids[0]), 'ping']);
  assert.equal(one.stdout, `1 processes have received command ping\n[acts:${ids[0]}:default]={"pong":"hehe"}\n`);
  const missing = ctx.pm(['trigger', String(ids[0]), 'nope']);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, "[PM2][ERROR] Action doesn't exist nope for acts\n");
  assert.match(ctx.ok(['describe', 'acts']).stdout, / Actions available [^]*│ ping +│[^]*│ echo +│[^]*Trigger via: pm trigger acts <action_name>/);
  ctx.ok(['delete', 'acts']);
});

test('link, plus and open say pm2.io is not offered', () => {
  for (const verb of ['link', 'plus', 'open', 'register', 'unlink', 'monitor', 'unmonitor']) {
    const r = ctx.pm([verb]);
    assert.equal(r.status, 1, verb);
    assert.match(r.stderr, /^\[PM2\]\[ERROR\] pm \w+: pm-native has no pm2\.io link; use pm ls/, verb);
  }
});

test('ecosystem is init', () => {
  const dir = fs.mkdtempSync(path.join(ctx.apps, 'eco-'));
  const r = ctx.ok(['ecosystem'], { cwd: dir });
  const file = path.join(fs.realpathSync(dir), 'ecosystem.config.js');
  assert.equal(r.stdout, `File ${file} generated\n`);
  assert.match(fs.readFileSync(file, 'utf8'), /module\.exports/);
});

test('slist prints the host memory in pm2 metric shape', () => {
  const out = ctx.ok(['slist']).stdout;
  assert.match(out, /^\{\n {2}'RAM Usage': \{ value: [\d.]+, type: 'metric', unit: '%', historic: true \},\n/);
  assert.match(out, /'RAM Total': \{ value: \d+, type: 'metric', unit: 'b', historic: true \}/);
});

test('report masks secrets and shows the daemon', () => {
  const r = ctx.ok(['report'], {
    env: { VERBS_API_TOKEN: 'tok123', VERBS_DB_URL: 'postgres://app:hunter2@db:5432/x', VERBS_PLAIN: 'hello' },
  });
  const out = lines(r.stdout);
  assert.ok(out.includes('--- PM2 report ----------------------------------------------------------------'));
  assert.ok(out.includes(`pid                  : ${ctx.daemonPid()}`), r.stdout);
  assert.ok(out.includes('VERBS_API_TOKEN=***'));
  assert.ok(out.includes('VERBS_DB_URL=postgres://app:***@db:5432/x'));
  assert.ok(out.includes('VERBS_PLAIN=hello'));
  assert.ok(!r.stdout.includes('tok123') && !r.stdout.includes('hunter2'));
});

test('the daemon writes pm2.pid beside pm.pid', () => {
  const pid = ctx.daemonPid();
  assert.ok(pid > 0);
  assert.equal(fs.readFileSync(path.join(ctx.home, 'pm2.pid'), 'utf8').trim(), String(pid));
});

test('pm2.io flags are tolerated; the ones asking for an agent warn by name', () => {
  const quiet = ctx.pm(['ls', '--no-pmx', '--no-automation', '--disable-trace', '--disable-source-map-support']);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
  const loud = ctx.pm(['ls', '--trace']);
  assert.equal(loud.status, 0);
  assert.equal(loud.stderr, `${WARN('--trace')}\n`);
});

test('reload --parallel is accepted and warns', () => {
  const r = ctx.pm(['reload', 'pair', '--parallel', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(lines(r.stderr)[0], WARN('--parallel'));
});

test('--no-autostart registers the app stopped', async () => {
  const r = ctx.ok(['start', ctx.app('idle.js'), '--name', 'held', '--no-autostart']);
  assert.match(r.stdout, /│ held +│ default +│ .* │ stopped +│/);
  const [p] = ctx.procs('held');
  assert.equal(p.pm2_env.status, 'stopped');
  assert.equal(p.pm2_env.autostart, false);
  assert.equal(p.pid, 0);
  ctx.ok(['start', 'held']);
  await ctx.online('held');
});

test('filter_env: true passes on none of the caller variables; a list drops the matching ones', async () => {
  const all = path.join(ctx.apps, 'filter-all.json');
  const eco = ctx.write(
    'filter.json',
    JSON.stringify({
      apps: [{ name: 'filtered', script: ctx.app('dump.js'), filter_env: true, env: { DUMP_FILE: all } }],
    }),
  );
  ctx.ok(['start', eco], { env: { VERBS_CALLER: 'x' } });
  await waitFor(() => fs.existsSync(all), { message: 'filter-all.json' });
  const seen = JSON.parse(fs.readFileSync(all, 'utf8')).env;
  assert.equal(seen.DUMP_FILE, all);
  assert.equal(seen.VERBS_CALLER, undefined);
  assert.equal(seen.PATH, undefined);
  assert.equal(seen.name, 'filtered');

  const some = path.join(ctx.apps, 'filter-some.json');
  ctx.ok(['start', ctx.app('dump.js'), '--name', 'partial', '--filter-env', 'VERBS_SECRET', '--filter-env', 'ZZTOKEN'], {
    env: { DUMP_FILE: some, VERBS_SECRET_A: '1', MY_ZZTOKEN_B: '2', VERBS_KEEP: '3' },
  });
  await waitFor(() => fs.existsSync(some), { message: 'filter-some.json' });
  const env = JSON.parse(fs.readFileSync(some, 'utf8')).env;
  assert.equal(env.VERBS_SECRET_A, undefined);
  assert.equal(env.MY_ZZTOKEN_B, undefined, 'pm2 drops names containing the string, not only prefixes');
  assert.equal(env.VERBS_KEEP, '3');
  assert.equal(env.DUMP_FILE, some);
});

test('--no-treekill stops the main process and leaves its children, as pm2', async () => {
  const pidFile = path.join(ctx.apps, 'grandchild.pid');
  const parent = ctx.write(
    'parent.js',
    `const { spawn } = require('child_process');
const fs = require('fs');
const c = spawn('sleep', ['300'], { stdio: 'ignore' });
fs.writeFileSync(process.env.PID_OUT + '.tmp', String(c.pid));
fs.renameSync(process.env.PID_OUT + '.tmp', process.env.PID_OUT);
setInterval(() => {}, 1 << 30);
`,
  );
  ctx.ok(['start', parent, '--name', 'lone', '--no-treekill'], { env: { PID_OUT: pidFile } });
  const [p] = await ctx.online('lone');
  const child = Number(await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8')));
  ctx.track(child);
  ctx.ok(['stop', 'lone']);
  await waitFor(() => !isAlive(p.pid), { message: 'main process gone' });
  assert.ok(isAlive(child), 'the child was killed with treekill off');
  process.kill(child, 'SIGKILL');
});

test('ecosystem options pm-native ignores are named once', () => {
  const eco = ctx.write(
    'ignored.json',
    JSON.stringify({
      apps: [
        { name: 'ig1', script: ctx.app('idle.js'), kill_retry_time: 100, trace: true },
        { name: 'ig2', script: ctx.app('idle.js'), kill_retry_time: 100 },
      ],
    }),
  );
  const r = ctx.ok(['start', eco]);
  assert.deepEqual(lines(r.stderr), [WARN('kill_retry_time'), WARN('trace')]);
});

test('attach <pm_id>: the app output here, lines typed go to its stdin, with a separator; EOF ends it', async () => {
  const { spawn } = require('node:child_process');
  ctx.write(
    'echo-stdin.js',
    "let b = ''; process.stdin.on('data', (d) => { b += d; let i; while ((i = b.search(/[\\n;]/)) >= 0) { console.log('got <' + b.slice(0, i) + '>'); b = b.slice(i + 1); } }); console.log('up');\n",
  );
  ctx.ok(['start', 'echo-stdin.js', '--name', 'att']);
  const [p] = await ctx.online('att');
  const attach = (args) => {
    const child = spawn(ctx.bin, ['attach', ...args], { env: ctx.env, cwd: ctx.apps, stdio: ['pipe', 'pipe', 'pipe'] });
    const r = { child, out: '' };
    child.stdout.on('data', (d) => (r.out += d));
    r.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    return r;
  };
  const a = attach([String(p.pm_id)]);
  // The bus is subscribed before the first line is read: send until one comes back.
  await waitFor(
    () => {
      a.child.stdin.write('hello\n');
      return a.out.includes('got <hello>');
    },
    { interval: 200, message: 'the typed line echoed back' },
  );
  a.child.stdin.end();
  assert.equal(await a.exited, 0);
  assert.match(a.out, /^(up\n)?(got <hello>\n)+$/, "only the app's own output");

  const s = attach([String(p.pm_id), ';']);
  await waitFor(
    () => {
      s.child.stdin.write('one\n');
      return s.out.includes('got <one>');
    },
    { interval: 200, message: 'the line sent with the separator' },
  );
  s.child.stdin.end();
  assert.equal(await s.exited, 0);

  const byName = ctx.pm(['attach', 'att']);
  assert.equal(byName.status, 1);
  assert.match(byName.stderr, /pm_id must be a process number \(not a process name\)/);
  assert.equal(byName.stderr.trim().split('\n').length, 1);
  const unknown = ctx.pm(['attach', '4242']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /process 4242 not found/);
  ctx.ok(['delete', 'att']);
});
