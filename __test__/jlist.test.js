'use strict';
// `jlist` is pm2's JSON schema that scripts parse; `prettylist` is util.inspect of the same list.
// Expected shapes come from a real pm2 7.0.4 (key order, types, defaults).

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { makeCtx, UUID_V4 } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

// pm2 7.0.4's pm2_env keys for a fork app, in order, without the caller's shell variables (which
// pm2 lifts between NODE_APP_INSTANCE and unique_id) and without node_version (tested apart).
const FORK_KEYS = [
  'name', 'filter_env', 'namespace', 'env', 'merge_logs', 'vizion', 'autostart', 'autorestart',
  'watch', 'instance_var', 'pmx', 'automation', 'treekill', 'username', 'windowsHide',
  'kill_retry_time', 'node_args', 'pm_exec_path', 'pm_cwd', 'exec_interpreter', 'exec_mode',
  'instances', 'pm_out_log_path', 'pm_err_log_path', 'pm_pid_path', 'km_link', 'vizion_running',
  'NODE_APP_INSTANCE',
  'unique_id', 'status', 'pm_uptime', 'axm_actions', 'axm_monitor', 'axm_options', 'axm_dynamic',
  'created_at', 'pm_id', 'restart_time', 'unstable_restarts', 'version',
];
// The cluster variant: `instances` at its schema place, no merge_logs.
const CLUSTER_KEYS = FORK_KEYS.filter((k) => k !== 'merge_logs' && k !== 'instances');
CLUSTER_KEYS.splice(CLUSTER_KEYS.indexOf('env') + 1, 0, 'instances');

// Keys pm2 takes from its own CLI process environment; tolerated either way.
const PM2_CLI_ENV = new Set(['PM2_HOME', 'PM2_USAGE', 'PM2_INTERACTOR_PROCESSING']);
const CALLER_ENV = { FOO: 'bar' };
const shellKeys = new Set([...Object.keys(ctx.env), ...Object.keys(CALLER_ENV)]);

function ownKeys(pm2Env) {
  return Object.keys(pm2Env).filter((k) => !shellKeys.has(k) && !PM2_CLI_ENV.has(k) && k !== 'node_version');
}

let t0;
let t1;

test('jlist with no apps is exactly []', () => {
  const r = ctx.pm(['jlist']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '[]');
  const p = ctx.pm(['prettylist']);
  assert.equal(p.status, 0);
  assert.equal(p.stdout, '[]');
});

test('jlist of a fork app: top-level keys, pm2_env keys in pm2 order, values and types', async () => {
  t0 = Date.now();
  ctx.ok(['start', 'idle.js', '--name', 'web'], { env: CALLER_ENV });
  const [web] = await ctx.online('web');
  t1 = Date.now();

  const raw = ctx.pm(['jlist']);
  assert.equal(raw.status, 0);
  assert.notEqual(raw.stdout.at(-1), '\n', 'no trailing newline');
  assert.equal(raw.stdout.at(-1), ']');
  const list = JSON.parse(raw.stdout);
  assert.equal(list.length, 1);
  const p = list[0];
  assert.deepEqual(Object.keys(p), ['pid', 'name', 'pm2_env', 'pm_id', 'monit']);
  assert.equal(p.pid, web.pid);
  assert.equal(p.name, 'web');
  assert.equal(p.pm_id, 0);
  assert.deepEqual(Object.keys(p.monit), ['memory', 'cpu']);
  assert.equal(typeof p.monit.memory, 'number');
  assert.ok(p.monit.memory > 1024 * 1024, `memory ${p.monit.memory} is a byte count of a live node`);
  assert.equal(typeof p.monit.cpu, 'number');

  const e = p.pm2_env;
  assert.deepEqual(ownKeys(e), FORK_KEYS);

  // The caller's variables sit between NODE_APP_INSTANCE and unique_id, as in pm2.
  const keys = Object.keys(e);
  const lo = keys.indexOf('NODE_APP_INSTANCE');
  const hi = keys.indexOf('unique_id');
  for (const k of Object.keys(ctx.env)) {
    const i = keys.indexOf(k);
    assert.ok(i > lo && i < hi, `shell var ${k} at ${i}, expected between ${lo} and ${hi}`);
  }
  assert.equal(e.FOO, 'bar');

  const script = ctx.app('idle.js');
  assert.equal(e.name, 'web');
  assert.deepEqual(e.filter_env, []);
  assert.equal(e.namespace, 'default');
  assert.equal(typeof e.env, 'object');
  assert.equal(e.env.FOO, 'bar');
  assert.equal(e.env.PM_HOME, ctx.home);
  assert.equal(e.env.unique_id, e.unique_id);
  assert.equal(Object.keys(e.env).at(-1), 'unique_id');
  assert.equal(e.merge_logs, true);
  assert.equal(e.vizion, true);
  assert.equal(e.autostart, true);
  assert.equal(e.autorestart, true);
  assert.equal(e.watch, false);
  assert.equal(e.instance_var, 'NODE_APP_INSTANCE');
  assert.equal(e.pmx, true);
  assert.equal(e.automation, true);
  assert.equal(e.treekill, true);
  assert.equal(e.username, os.userInfo().username);
  assert.equal(e.windowsHide, true);
  assert.equal(e.kill_retry_time, 100);
  assert.deepEqual(e.node_args, []);
  assert.equal(e.pm_exec_path, script);
  assert.equal(e.pm_cwd, ctx.apps);
  assert.equal(e.exec_interpreter, 'node');
  assert.equal(e.exec_mode, 'fork_mode');
  assert.equal(e.instances, 1);
  assert.equal(e.pm_out_log_path, path.join(ctx.home, 'logs', 'web-out.log'));
  assert.equal(e.pm_err_log_path, path.join(ctx.home, 'logs', 'web-error.log'));
  assert.equal(e.pm_pid_path, path.join(ctx.home, 'pids', 'web-0.pid'));
  assert.equal(e.km_link, false);
  assert.equal(e.vizion_running, false);
  assert.equal(e.NODE_APP_INSTANCE, 0);
  assert.match(e.unique_id, UUID_V4);
  assert.equal(e.status, 'online');
  assert.equal(typeof e.pm_uptime, 'number');
  assert.deepEqual(e.axm_actions, []);
  // The code metrics (pm2's @pm2/io names) arrive from the app preload every 2 s.
  assert.ok(e.axm_monitor && typeof e.axm_monitor === 'object' && !Array.isArray(e.axm_monitor));
  // pm2 tools name an app by its agent's module_name (pm2's agent also adds its settings).
  assert.deepEqual(e.axm_options, { module_name: 'web', module_version: require('../package.json').version });
  assert.deepEqual(e.env.web, {}, "the app's module configuration, empty");
  assert.equal(Object.keys(e.env).at(-2), 'web');
  assert.deepEqual(e.axm_dynamic, {});
  assert.ok(e.created_at >= t0 && e.created_at <= t1, `created_at ${e.created_at} in [${t0}, ${t1}]`);
  assert.ok(e.pm_uptime >= e.created_at && e.pm_uptime <= t1);
  assert.equal(e.pm_id, 0);
  assert.equal(e.restart_time, 0);
  assert.equal(e.unstable_restarts, 0);
  assert.equal(e.version, 'N/A', 'no package.json above the script');

  assert.equal(fs.readFileSync(e.pm_pid_path, 'utf8').trim(), String(p.pid));
});

test('pm2_env carries node_version, the version of the Node running the app (as pm2 does)', async () => {
  const [web] = await ctx.online('web');
  assert.equal(web.pm2_env.node_version, process.versions.node);
  const keys = Object.keys(web.pm2_env);
  assert.equal(keys.indexOf('node_version'), keys.indexOf('version') + 1, 'node_version right after version');
});

test('version comes from the nearest package.json, absent when it has none', async () => {
  ctx.write('withver/package.json', JSON.stringify({ name: 'withver', version: '1.2.3' }));
  const a = ctx.write('withver/lib/a.js', 'setInterval(() => {}, 1 << 30);\n');
  ctx.write('nover/package.json', JSON.stringify({ name: 'nover' }));
  const b = ctx.write('nover/b.js', 'setInterval(() => {}, 1 << 30);\n');
  ctx.ok(['start', a, '--name', 'withver']);
  ctx.ok(['start', b, '--name', 'nover']);
  const [wv] = await ctx.online('withver');
  const [nv] = await ctx.online('nover');
  assert.equal(wv.pm2_env.version, '1.2.3');
  assert.equal('version' in nv.pm2_env, false, 'no version key when package.json has no version');
  ctx.ok(['delete', 'withver', 'nover']);
});

test('jlist of cluster instances: pm2 order, per-instance log paths', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'cl', '-i', '2'], { env: CALLER_ENV });
  const cl = await ctx.online('cl', { count: 2 });
  assert.deepEqual(cl.map((p) => p.pm_id), [3, 4]);
  for (const [i, p] of cl.entries()) {
    const e = p.pm2_env;
    assert.deepEqual(Object.keys(p), ['pid', 'name', 'pm2_env', 'pm_id', 'monit']);
    assert.deepEqual(ownKeys(e), CLUSTER_KEYS);
    assert.equal(e.exec_mode, 'cluster_mode');
    assert.equal(e.instances, 2);
    assert.equal(e.NODE_APP_INSTANCE, i);
    assert.equal(e.pm_out_log_path, path.join(ctx.home, 'logs', `cl-out-${p.pm_id}.log`));
    assert.equal(e.pm_err_log_path, path.join(ctx.home, 'logs', `cl-error-${p.pm_id}.log`));
    assert.equal(e.pm_pid_path, path.join(ctx.home, 'pids', `cl-${p.pm_id}.pid`));
  }
  assert.notEqual(cl[0].pm2_env.unique_id, cl[1].pm2_env.unique_id);
});

test('a stopped app: pid 0, monit zero, status stopped, exit_code recorded', () => {
  ctx.ok(['stop', 'web']);
  const [web] = ctx.procs('web');
  assert.equal(web.pid, 0);
  assert.deepEqual(web.monit, { memory: 0, cpu: 0 });
  assert.equal(web.pm2_env.status, 'stopped');
  assert.ok('exit_code' in web.pm2_env, 'exit_code after an exit');
  assert.deepEqual(ownKeys(web.pm2_env).filter((k) => k !== 'exit_code' && k !== '_tree_pids'), FORK_KEYS);
});

/** Replaces the live cpu/memory figures, the only values that move between two reads. */
function steadyMonit(text) {
  return text.replace(/monit: \{ memory: \d+, cpu: [\d.]+ \}/g, 'monit: { memory: 0, cpu: 0 }');
}

test('prettylist is util.inspect(jlist) (online apps: cpu/memory normalised)', () => {
  const j = ctx.pm(['jlist']);
  const p = ctx.pm(['prettylist']);
  assert.equal(p.status, 0);
  const list = JSON.parse(j.stdout);
  for (const proc of list) proc.monit = { memory: 0, cpu: 0 };
  const expected = util.inspect(list, false, null, false);
  assert.equal(steadyMonit(p.stdout), expected);
  // grep -c "'online'": one per online process
  const onlineLines = p.stdout.split('\n').filter((l) => l.includes("'online'")).length;
  assert.equal(onlineLines, list.filter((x) => x.pm2_env.status === 'online').length);
  assert.equal(onlineLines, 2);
});

test('prettylist with every app stopped is byte for byte util.inspect(jlist)', () => {
  ctx.ok(['stop', 'all']);
  const j = ctx.pm(['jlist']);
  const p = ctx.pm(['prettylist']);
  assert.equal(p.stdout, util.inspect(JSON.parse(j.stdout), false, null, false));
  assert.equal(p.stdout.split('\n').filter((l) => l.includes("'online'")).length, 0);
  assert.equal(p.stdout.split('\n').filter((l) => l.includes("status: 'stopped'")).length, 3);
});

test('prettylist matches util.inspect on awkward values (quotes, newlines, odd keys, long arrays)', async () => {
  const odd = {
    QUOTE: "it's",
    BOTH: `it's "x"`,
    NEWLINE: 'a\nb\tc',
    'my-var': '1',
    UNICODE: 'héllo ✓ \u0001',
    EMPTY: '',
    LONG: 'x'.repeat(120),
  };
  const args = Array.from({ length: 30 }, (_, i) => String(i * 37));
  ctx.ok(['start', 'idle.js', '--name', 'odd', '--', ...args], { env: odd });
  const [p] = await ctx.online('odd');
  assert.deepEqual(p.pm2_env.args, args);
  assert.equal(p.pm2_env.env.NEWLINE, 'a\nb\tc');
  ctx.ok(['stop', 'odd']);
  const j = ctx.pm(['jlist']);
  const pretty = ctx.pm(['prettylist']);
  assert.equal(pretty.stdout, util.inspect(JSON.parse(j.stdout), false, null, false));
});
