'use strict';
// What an app sees: pm2's variables, the caller's environment (on start and --update-env only),
// Node's IPC channel, and the interpreter chosen for non-Node scripts.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { makeCtx, waitFor, UUID_V4 } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const dumpFile = path.join(ctx.apps, 'envapp.json');

/** Waits for the app to (re)write its dump and returns it. */
async function readDump(file = dumpFile) {
  return waitFor(() => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')), {
    message: `dump ${file}`,
  });
}

test('a Node app gets pm2\'s variables, the caller\'s env and an IPC channel', async () => {
  ctx.ok(['start', 'dump.js', '--name', 'envapp'], { env: { FOO: 'bar', DUMP_FILE: dumpFile } });
  const [p] = await ctx.online('envapp');
  const d = await readDump();
  const env = d.env;
  assert.equal(d.pid, p.pid);
  assert.equal(env.pm_id, '0');
  assert.equal(env.name, 'envapp');
  assert.equal(env.namespace, 'default');
  assert.equal(env.NODE_APP_INSTANCE, '0');
  assert.equal(env.PM2_HOME, ctx.home);
  assert.equal(env.PM_HOME, ctx.home);
  assert.match(env.unique_id, UUID_V4);
  assert.equal(env.unique_id, p.pm2_env.unique_id);
  assert.equal(env.status, 'launching');
  assert.equal(env.pm_exec_path, ctx.app('dump.js'));
  assert.equal(env.pm_cwd, ctx.apps);
  assert.equal(env.exec_mode, 'fork_mode');
  assert.equal(env.exec_interpreter, 'node');
  assert.equal(env.pm_out_log_path, path.join(ctx.home, 'logs', 'envapp-out.log'));
  assert.equal(env.pm_err_log_path, path.join(ctx.home, 'logs', 'envapp-error.log'));
  assert.equal(env.pm_pid_path, path.join(ctx.home, 'pids', 'envapp-0.pid'));
  assert.equal(env.restart_time, '0');
  assert.equal(env.FOO, 'bar');
  assert.equal(env.PATH, ctx.env.PATH);
  assert.equal('NODE_CHANNEL_FD' in env, false, 'Node deletes NODE_CHANNEL_FD once it opened the channel');
  assert.equal(d.send, 'function', 'process.send exists: the IPC channel is open');
  assert.equal(d.cwd, ctx.apps);
  // Not pm2's internal state: objects and daemon internals stay out.
  for (const k of ['pm2_env', 'env', 'filter_env', 'node_args', 'axm_actions', 'SILENT']) {
    assert.equal(k in env, false, `${k} leaked into the app env`);
  }
});

test('plain restart keeps the env the app was started with', async () => {
  fs.rmSync(dumpFile);
  const r = ctx.pm(['restart', 'envapp'], { env: { FOO: 'baz', DUMP_FILE: dumpFile, NEWVAR: 'x' } });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Use --update-env to update environment variables\n'), r.stdout);
  const d = await readDump();
  assert.equal(d.env.FOO, 'bar');
  assert.equal('NEWVAR' in d.env, false);
  assert.equal(d.env.restart_time, '1');
  assert.equal(ctx.procs('envapp')[0].pm2_env.env.FOO, 'bar');
});

test('restart --update-env gives the app the caller\'s env', async () => {
  fs.rmSync(dumpFile);
  const r = ctx.pm(['restart', 'envapp', '--update-env'], { env: { FOO: 'baz', DUMP_FILE: dumpFile, NEWVAR: 'x' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.includes('Use --update-env'), false);
  const d = await readDump();
  assert.equal(d.env.FOO, 'baz');
  assert.equal(d.env.NEWVAR, 'x');
  assert.equal(d.env.restart_time, '2');
  const [p] = ctx.procs('envapp');
  assert.equal(p.pm2_env.env.FOO, 'baz');
  assert.equal(p.pm2_env.FOO, 'baz');
});

test('a .sh script runs under bash', async () => {
  const out = path.join(ctx.apps, 'sh.out');
  ctx.write('run.sh', `echo "bash=$BASH_VERSION name=$name id=$pm_id" > "${out}.tmp" && mv "${out}.tmp" "${out}"\nexec sleep 600\n`);
  ctx.ok(['start', 'run.sh', '--name', 'shapp']);
  const [p] = await ctx.online('shapp');
  assert.equal(p.pm2_env.exec_interpreter, 'bash');
  const text = await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8'), { message: 'sh.out' });
  const bashVersion = spawnSync('bash', ['-c', 'echo $BASH_VERSION'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(text, `bash=${bashVersion} name=shapp id=${p.pm_id}\n`);
  ctx.ok(['delete', 'shapp']);
});

test('--interpreter none runs an executable through its shebang, even named .js', async () => {
  const out = path.join(ctx.apps, 'tool.out');
  const tool = ctx.write(
    'tool.js',
    `#!/bin/sh\necho "sh:$name:$1:$2" > "${out}.tmp" && mv "${out}.tmp" "${out}"\nexec sleep 600\n`,
    0o755,
  );
  ctx.ok(['start', tool, '--name', 'tool', '--interpreter', 'none', '--', 'one', 'two']);
  const [p] = await ctx.online('tool');
  assert.equal(p.pm2_env.exec_interpreter, 'none');
  const text = await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8'), { message: 'tool.out' });
  assert.equal(text, 'sh:tool:one:two\n');
  ctx.ok(['delete', 'tool']);
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

test('a .py script runs under python', { skip: !hasPython && 'python3 not installed' }, async () => {
  const out = path.join(ctx.apps, 'py.json');
  ctx.write(
    'app.py',
    [
      'import json, os, sys, time',
      `tmp = ${JSON.stringify(out)} + ".tmp"`,
      'with open(tmp, "w") as f:',
      '    json.dump({"name": os.environ.get("name"), "argv": sys.argv[1:], "exe": sys.executable}, f)',
      `os.rename(tmp, ${JSON.stringify(out)})`,
      'time.sleep(600)',
      '',
    ].join('\n'),
  );
  ctx.ok(['start', 'app.py', '--name', 'py', '--', 'a', 'b']);
  const [p] = await ctx.online('py');
  assert.match(p.pm2_env.exec_interpreter, /^python3?$/);
  const d = await waitFor(() => fs.existsSync(out) && JSON.parse(fs.readFileSync(out, 'utf8')), { message: 'py.json' });
  assert.equal(d.name, 'py');
  assert.deepEqual(d.argv, ['a', 'b']);
  assert.match(path.basename(d.exe), /^python/);
  ctx.ok(['delete', 'py']);
});

test('a caller variable named like a pm2 field does not override it', async () => {
  const file = path.join(ctx.apps, 'clash.json');
  ctx.ok(['start', 'dump.js', '--name', 'clash'], {
    env: { DUMP_FILE: file, name: 'evil', pm_id: '99', instances: '5', NODE_APP_INSTANCE: '7', watch: 'true' },
  });
  const [p] = await ctx.online('clash');
  assert.equal(p.name, 'clash');
  assert.equal(p.pm2_env.name, 'clash');
  assert.equal(p.pm2_env.instances, 1);
  assert.equal(p.pm2_env.watch, false);
  assert.equal(p.pm2_env.NODE_APP_INSTANCE, 0);
  const d = await readDump(file);
  assert.equal(d.env.name, 'clash');
  assert.equal(d.env.pm_id, String(p.pm_id));
  assert.equal(d.env.NODE_APP_INSTANCE, '0');
  const table = ctx.ok(['ls']).stdout;
  assert.ok(table.includes('clash'), table);
  assert.equal(table.includes('evil'), false, table);
  ctx.ok(['delete', 'clash']);
});

test('instance_var names the instance variable and increment_var counts up from the app env, as pm2 does', async () => {
  const dir = fs.mkdtempSync(path.join(ctx.home, 'inst-'));
  ctx.write('inst.js', `require('fs').writeFileSync(require('path').join(${JSON.stringify(dir)}, process.pid + '.json'), JSON.stringify(process.env));\nsetInterval(() => {}, 1000);\n`);
  const eco = ctx.write(
    'inst.config.js',
    `module.exports = { apps: [{ name: 'inst', script: 'inst.js', instances: 3, exec_mode: 'fork', instance_var: 'INSTANCE_ID', increment_var: 'PORT', env: { PORT: 4000 } }] };\n`,
  );
  ctx.ok(['start', eco]);
  const procs = await ctx.online('inst', { count: 3 });
  const envs = await waitFor(() => {
    const files = fs.readdirSync(dir);
    return files.length === 3 && files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  }, { message: 'three env dumps' });
  const seen = envs.map((e) => [e.INSTANCE_ID, e.PORT, e.NODE_APP_INSTANCE]).sort();
  assert.deepEqual(seen, [
    ['0', '4000', undefined],
    ['1', '4001', undefined],
    ['2', '4002', undefined],
  ]);
  assert.deepEqual(procs.map((p) => p.pm2_env.instance_var), ['INSTANCE_ID', 'INSTANCE_ID', 'INSTANCE_ID']);
  // The list shows what each instance got, at the top level and in env, as pm2's does.
  const listed = ctx.jlist().filter((p) => p.name === 'inst').map((p) => [p.pm2_env.INSTANCE_ID, p.pm2_env.PORT, p.pm2_env.env.PORT]).sort();
  assert.deepEqual(listed, [
    [0, 4000, 4000],
    [1, 4001, 4001],
    [2, 4002, 4002],
  ]);
  ctx.ok(['delete', 'inst']);
});
