'use strict';
// Ecosystem files (JSON, JS, YAML), --env and --only, args and cwd, JSON lists on stdin, `init`.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor, ROOT, lines } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const dump = (name) => path.join(ctx.apps, `${name}.dump.json`);

async function readDump(name) {
  const file = dump(name);
  return waitFor(() => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')), {
    message: `dump of ${name}`,
  });
}

function clearDumps(...names) {
  for (const n of names) fs.rmSync(dump(n), { force: true });
}

/** Two apps, each with `env` and `env_production`; `a` has args and a cwd of its own. */
function twoApps(prefix) {
  return [
    {
      name: `${prefix}a`,
      script: 'dump.js',
      args: ['--port', '1', 'two words'],
      cwd: 'work',
      env: { MODE: 'dev', ONLY_DEV: 'yes', NUM: 1, DUMP_FILE: dump(`${prefix}a`) },
      env_production: { MODE: 'prod', ONLY_PROD: 'yes' },
    },
    {
      name: `${prefix}b`,
      script: 'dump.js',
      env: { MODE: 'dev-b', DUMP_FILE: dump(`${prefix}b`) },
      env_production: { MODE: 'prod-b' },
    },
  ];
}

fs.mkdirSync(path.join(ctx.apps, 'work'));
// `a` runs in ./work, so its script is resolved there, as pm2 does.
fs.copyFileSync(ctx.app('dump.js'), path.join(ctx.apps, 'work', 'dump.js'));

test('JSON ecosystem: --env production --only a starts a alone, env merged, args and cwd applied', async () => {
  ctx.write('eco.json', JSON.stringify({ apps: twoApps('j') }, null, 2));
  const r = ctx.pm(['start', 'eco.json', '--env', 'production', '--only', 'ja']);
  assert.equal(r.status, 0, r.stderr);
  const out = lines(r.stdout);
  assert.equal(out[0], '[PM2][WARN] Applications ja not running, starting...');
  assert.equal(out[1], '[PM2] App [ja] launched (1 instances)');
  const [a] = await ctx.online('ja');
  assert.deepEqual(ctx.jlist().map((p) => p.name), ['ja']);

  const d = await readDump('ja');
  assert.equal(d.pid, a.pid);
  assert.equal(d.env.MODE, 'prod');
  assert.equal(d.env.ONLY_DEV, 'yes');
  assert.equal(d.env.ONLY_PROD, 'yes');
  assert.equal(d.env.NUM, '1');
  assert.deepEqual(d.argv, ['--port', '1', 'two words']);
  assert.equal(d.cwd, path.join(ctx.apps, 'work'));
  assert.equal(a.pm2_env.pm_cwd, path.join(ctx.apps, 'work'));
  assert.equal(a.pm2_env.pm_exec_path, path.join(ctx.apps, 'work', 'dump.js'));
  assert.deepEqual(a.pm2_env.args, ['--port', '1', 'two words']);
  assert.equal(a.pm2_env.env.MODE, 'prod');
});

test('JSON ecosystem started again: the running app restarts, the missing one starts', async () => {
  const [before] = ctx.procs('ja');
  clearDumps('ja', 'jb');
  const r = ctx.pm(['start', 'eco.json', '--env', 'production']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes('[PM2] Applying action restartProcessId on app [ja](ids: [ 0 ])'), r.stdout);
  assert.ok(r.stdout.includes('[PM2][WARN] Applications jb not running, starting...'), r.stdout);
  const [a] = await ctx.online('ja');
  const [b] = await ctx.online('jb');
  assert.equal(a.pm2_env.restart_time, 1);
  assert.notEqual(a.pid, before.pid);
  assert.equal((await readDump('jb')).env.MODE, 'prod-b');
  assert.equal((await readDump('ja')).env.MODE, 'prod');
  assert.equal(b.pm2_env.pm_cwd, ctx.apps);
});

test('an ecosystem file is a target: stop --only, then delete all of its apps', async () => {
  ctx.pm(['delete', 'all']);
  ctx.ok(['start', 'eco.json']);
  await ctx.online('ja');
  await ctx.online('jb');
  const s = ctx.pm(['stop', 'eco.json', '--only', 'jb']);
  assert.equal(s.status, 0, s.stderr);
  const by = Object.fromEntries(ctx.jlist().map((p) => [p.name, p.pm2_env.status]));
  assert.deepEqual(by, { ja: 'online', jb: 'stopped' });
  const d = ctx.pm(['delete', 'eco.json']);
  assert.equal(d.status, 0, d.stderr);
  assert.deepEqual(ctx.jlist(), []);
});

test('startOrRestart and restart of an ecosystem apply the file\'s (changed) env, and --env', async () => {
  ctx.pm(['delete', 'all']);
  const file = (mode) => JSON.stringify({
    apps: [{ name: 'sr', script: 'dump.js', env: { MODE: mode, DUMP_FILE: dump('sr') }, env_production: { MODE: 'prod' } }],
  });
  ctx.write('sr.json', file('dev'));
  ctx.ok(['startOrRestart', 'sr.json']);
  await ctx.online('sr');
  assert.equal((await readDump('sr')).env.MODE, 'dev');

  ctx.write('sr.json', file('dev2'));
  clearDumps('sr');
  ctx.ok(['startOrRestart', 'sr.json']);
  assert.equal((await readDump('sr')).env.MODE, 'dev2', 'startOrRestart re-reads env from the file');

  clearDumps('sr');
  ctx.ok(['startOrRestart', 'sr.json', '--env', 'production']);
  assert.equal((await readDump('sr')).env.MODE, 'prod', 'startOrRestart --env production');

  clearDumps('sr');
  ctx.ok(['restart', 'sr.json']);
  assert.equal((await readDump('sr')).env.MODE, 'dev2', 'restart <file> re-reads env from the file');
  const [sr] = await ctx.online('sr');
  assert.equal(sr.pm2_env.restart_time, 3);
  ctx.ok(['delete', 'sr.json']);
});

test('JS ecosystem (module.exports) without --env uses env', async () => {
  ctx.write('eco.config.js', `module.exports = ${JSON.stringify({ apps: twoApps('js') }, null, 2)};\n`);
  const r = ctx.pm(['start', 'eco.config.js']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes('[PM2][WARN] Applications jsa, jsb not running, starting...'), r.stdout);
  await ctx.online('jsa');
  await ctx.online('jsb');
  const a = await readDump('jsa');
  const b = await readDump('jsb');
  assert.equal(a.env.MODE, 'dev');
  assert.equal('ONLY_PROD' in a.env, false);
  assert.deepEqual(a.argv, ['--port', '1', 'two words']);
  assert.equal(b.env.MODE, 'dev-b');
  assert.deepEqual(b.argv, []);
  ctx.ok(['delete', 'all']);
});

test('YAML ecosystem with --env production', async () => {
  const [a, b] = twoApps('y');
  const yaml = [
    'apps:',
    `  - name: ${a.name}`,
    `    script: ${a.script}`,
    `    cwd: ${a.cwd}`,
    '    args:',
    ...a.args.map((x) => `      - "${x}"`),
    '    env:',
    '      MODE: dev',
    '      ONLY_DEV: "yes"',
    '      NUM: 1',
    `      DUMP_FILE: ${a.env.DUMP_FILE}`,
    '    env_production:',
    '      MODE: prod',
    '      ONLY_PROD: "yes"',
    `  - name: ${b.name}`,
    `    script: ${b.script}`,
    '    env:',
    '      MODE: dev-b',
    `      DUMP_FILE: ${b.env.DUMP_FILE}`,
    '    env_production:',
    '      MODE: prod-b',
    '',
  ].join('\n');
  ctx.write('eco.yml', yaml);
  const r = ctx.pm(['start', 'eco.yml', '--env', 'production']);
  assert.equal(r.status, 0, r.stderr);
  await ctx.online('ya');
  await ctx.online('yb');
  const da = await readDump('ya');
  const db = await readDump('yb');
  assert.equal(da.env.MODE, 'prod');
  assert.equal(da.env.ONLY_DEV, 'yes');
  assert.equal(da.env.ONLY_PROD, 'yes');
  assert.equal(da.env.NUM, '1');
  assert.deepEqual(da.argv, ['--port', '1', 'two words']);
  assert.equal(da.cwd, path.join(ctx.apps, 'work'));
  assert.equal(db.env.MODE, 'prod-b');
  ctx.ok(['delete', 'all']);
});

test('args and node_args given as strings split like pm2, and quoted words stay whole', async () => {
  ctx.write('words.json', JSON.stringify({
    apps: [{
      name: 'words',
      script: 'dump.js',
      args: "--port  1 'two words'",
      node_args: "--max-old-space-size=100 --title 'a b'",
      env: { DUMP_FILE: dump('words') },
    }],
  }));
  ctx.ok(['start', 'words.json']);
  const [p] = await ctx.online('words');
  assert.deepEqual(p.pm2_env.node_args, ['--max-old-space-size=100', '--title', 'a b']);
  assert.deepEqual(p.pm2_env.args, ['--port', '1', 'two words']);
  assert.deepEqual((await readDump('words')).argv, ['--port', '1', 'two words']);
  ctx.ok(['delete', 'words']);

  clearDumps('words');
  ctx.ok(['start', 'dump.js', '--name', 'words', '--node-args', "--max-old-space-size=100 --title 'a b'", '--', 'x', 'y z'], {
    env: { DUMP_FILE: dump('words') },
  });
  const [q] = await ctx.online('words');
  assert.deepEqual(q.pm2_env.node_args, ['--max-old-space-size=100', '--title', 'a b']);
  assert.deepEqual((await readDump('words')).argv, ['x', 'y z']);
  ctx.ok(['delete', 'words']);
});

test('pm start - reads a JSON app list on stdin; pm delete - removes it', async () => {
  const list = [
    { name: 's1', script: ctx.app('idle.js') },
    { name: 's2', script: ctx.app('idle.js'), args: ['x'] },
  ];
  const r = ctx.pm(['start', '-'], { input: JSON.stringify(list) });
  assert.equal(r.status, 0, r.stderr);
  await ctx.online('s1');
  const [s2] = await ctx.online('s2');
  assert.deepEqual(s2.pm2_env.args, ['x']);
  assert.deepEqual(ctx.jlist().map((p) => p.name), ['s1', 's2']);

  ctx.ok(['start', 'idle.js', '--name', 'keep']);
  const d = ctx.pm(['delete', '-'], { input: JSON.stringify(list) });
  assert.equal(d.status, 0, d.stderr);
  assert.deepEqual(ctx.jlist().map((p) => p.name), ['keep']);
  ctx.ok(['delete', 'all']);
});

test('pm init writes pm2\'s ecosystem.config.js template', () => {
  const dir = path.join(ctx.apps, 'initdir');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'ecosystem.config.js');
  const r = ctx.pm(['init'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `File ${file} generated\n`);
  const tpl = path.join(ROOT, 'node_modules', 'pm2', 'lib', 'templates', 'ecosystem.tpl');
  assert.equal(fs.readFileSync(file, 'utf8'), fs.readFileSync(tpl, 'utf8'));
  const conf = require(file);
  assert.deepEqual(conf.apps.map((a) => a.script), ['index.js', './service-worker/']);

  const s = ctx.pm(['init', 'simple'], { cwd: dir });
  assert.equal(s.status, 0, s.stderr);
  assert.equal(s.stdout, `File ${file} generated\n`);
  const simpleTpl = path.join(ROOT, 'node_modules', 'pm2', 'lib', 'templates', 'ecosystem-simple.tpl');
  assert.equal(fs.readFileSync(file, 'utf8'), fs.readFileSync(simpleTpl, 'utf8'));
});
