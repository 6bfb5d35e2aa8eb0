'use strict';
// pm2 habits that must keep working when `pm2` becomes `pm`: several scripts in one start, a
// bare `pm start`, command strings run through bash. Expected shapes are pm2 7.0.4's.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor, lines } = require('./helpers');

const ctxs = [];
function ctx() {
  const c = makeCtx();
  ctxs.push(c);
  return c;
}
after(() => ctxs.forEach((c) => c.cleanup()));

/** Writes its argv to `<script>.argv` (atomically), then idles. */
const ARGV = `
const fs = require('fs');
fs.writeFileSync(__filename + '.argv.tmp', JSON.stringify(process.argv.slice(2)));
fs.renameSync(__filename + '.argv.tmp', __filename + '.argv');
setInterval(() => {}, 1 << 30);
`;

test('pm start a.js b.js c.js -- args: each script started with the same flags and args, one table', async () => {
  const c = ctx();
  for (const n of ['a', 'b', 'c']) c.write(`${n}.js`, ARGV);
  const r = c.ok(['start', 'a.js', 'b.js', 'c.js', '--namespace', 'trio', '--', 'x', '--y=1']);
  const out = lines(r.stdout);
  for (const n of ['a', 'b', 'c']) {
    assert.ok(out.includes(`[PM2] Starting ${c.app(`${n}.js`)} in fork_mode (1 instance)`), r.stdout);
    await c.online(n);
    const argv = await waitFor(() => fs.existsSync(c.app(`${n}.js.argv`)) && fs.readFileSync(c.app(`${n}.js.argv`), 'utf8'), {
      message: `${n}.js wrote its argv`,
    });
    assert.deepEqual(JSON.parse(argv), ['x', '--y=1']);
  }
  assert.deepEqual(
    c.jlist().map((p) => [p.name, p.pm2_env.namespace]),
    [
      ['a', 'trio'],
      ['b', 'trio'],
      ['c', 'trio'],
    ],
  );
  assert.equal(out.filter((l) => l.startsWith('┌')).length, 1, 'one table, after the last start');

  // pm2 stops at the first script that cannot start and keeps the ones before it.
  const bad = c.pm(['start', 'a.js', 'missing.js', 'b.js', '-f', '--name', 'again']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /Script not found: .*missing\.js/);
  assert.equal(c.procs('again').length, 1, 'a.js started before missing.js failed; b.js not tried');
});

test('a bare pm start starts ./ecosystem.config.js, as pm2', async () => {
  const c = ctx();
  c.write('ecosystem.config.js', `module.exports = { apps: [{ name: 'from-default', script: 'idle.js' }] };`);
  const r = c.ok(['start']);
  assert.match(r.stdout, /\[PM2\] App \[from-default\] launched \(1 instances\)/);
  await c.online('from-default');
  const empty = ctx();
  const none = empty.pm(['start'], { cwd: empty.home });
  assert.equal(none.status, 1);
  assert.equal(lines(none.stderr).length, 1, none.stderr);
  assert.match(none.stderr, /ecosystem\.config\.js not found/);
});

test('a command string runs through bash -c and is named after the line, as pm2', async () => {
  const c = ctx();
  const line = `node -e 'console.log("got " + process.env.TEST); setInterval(() => {}, 1 << 30)'`;
  c.ok(['start', line, '-l', 'cmd.log', '--merge-logs'], { env: { TEST: 'first' } });
  const [p] = await c.online(line);
  assert.match(p.pm2_env.pm_exec_path, /\/(ba)?sh$/);
  assert.deepEqual(p.pm2_env.args, ['-c', line]);
  assert.equal(p.pm2_env.exec_interpreter, 'none');
  const log = c.app('cmd.log');
  await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('got first'), { message: 'the line ran' });

  // A second start of the same line is the same app: pm2 refuses it while it runs.
  const again = c.pm(['start', line]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already (running|launched)/i);

  // Its id restarts it, with the caller's new env on --update-env.
  c.ok(['restart', String(p.pm_id), '--update-env'], { env: { TEST: 'second' } });
  await waitFor(() => fs.readFileSync(log, 'utf8').includes('got second'), { message: 'restarted with the new env' });
  assert.equal(c.procs(line)[0].pm2_env.restart_time, 1);

  // In an ecosystem file too, with the file's env.
  c.write('cmd.config.js', `module.exports = { apps: [{ name: 'eco-cmd', script: "echo from $WHO; sleep 1000", env: { WHO: 'file' }, out_file: 'eco.log' }] };`);
  c.ok(['start', 'cmd.config.js']);
  await c.online('eco-cmd');
  await waitFor(() => fs.existsSync(c.app('eco.log')) && fs.readFileSync(c.app('eco.log'), 'utf8').includes('from file'), {
    message: 'the ecosystem command line ran',
  });
  assert.ok(!fs.existsSync(path.join(c.apps, 'echo')), 'no file was made of the first word');
});

test('pm set <app>.<key> restarts that app with the section in its env; multiset too; a fresh home is created', async () => {
  const c = ctx();
  // Before any daemon: the home does not exist yet.
  fs.rmSync(c.home, { recursive: true, force: true });
  c.ok(['unset', 'all']);
  assert.equal(fs.statSync(c.home).mode & 0o777, 0o700);
  const dump = c.app('seen.json');
  c.ok(['start', 'dump.js', '--name', 'echo'], { env: { DUMP_FILE: dump } });
  const [first] = await c.online('echo');
  // The restart takes the caller's env (pm2's updateEnv), so the caller passes DUMP_FILE again.
  const r = c.ok(['set', 'echo.config_var', 'false'], { env: { DUMP_FILE: dump } });
  assert.match(r.stdout, /\[PM2\] Module echo restarted\n\[PM2\] Setting changed\n/);
  const seen = await waitFor(
    () => {
      const p = c.procs('echo')[0];
      if (p.pid === first.pid || p.pm2_env.status !== 'online' || !fs.existsSync(dump)) return false;
      const d = JSON.parse(fs.readFileSync(dump, 'utf8'));
      return d.pid === p.pid && d;
    },
    { message: 'echo restarted and wrote its env' },
  );
  assert.equal(seen.env.config_var, 'false');
  assert.deepEqual(JSON.parse(seen.env.echo), { config_var: 'false' });
  assert.equal(c.procs('echo')[0].pm2_env.restart_time, 1);

  c.ok(['multiset', 'echo.a 1 echo.b two'], { env: { DUMP_FILE: dump } });
  await waitFor(() => c.procs('echo')[0].pm2_env.restart_time === 2 && JSON.parse(fs.readFileSync(dump, 'utf8')).env.b === 'two', {
    message: 'multiset restarted echo once with both keys',
  });
  assert.deepEqual(JSON.parse(JSON.parse(fs.readFileSync(dump, 'utf8')).env.echo), { config_var: 'false', a: '1', b: 'two' });

  // A plain restart by name keeps giving the app its section, as pm2's does.
  c.ok(['restart', 'echo']);
  await waitFor(() => c.procs('echo')[0].pm2_env.restart_time === 3 && c.procs('echo')[0].pm2_env.status === 'online', { message: 'restart' });
  await waitFor(() => JSON.parse(fs.readFileSync(dump, 'utf8')).pid === c.procs('echo')[0].pid, { message: 'env written again' });
  assert.equal(JSON.parse(fs.readFileSync(dump, 'utf8')).env.a, '1');

  const odd = c.pm(['multiset', 'echo.a']);
  assert.equal(odd.status, 1);
  assert.equal(lines(odd.stderr).length, 1, odd.stderr);
});

test('restart and start apply new options: --node-args (null clears), --name renames, --cron-restart 0 removes, -a', async () => {
  const c = ctx();
  c.ok(['start', 'idle.js', '--name', 'opts', '--cron-restart', '0 0 1 1 *']);
  await c.online('opts');
  assert.equal(c.procs('opts')[0].pm2_env.cron_restart, '0 0 1 1 *');
  c.ok(['restart', 'opts', '--node-args=--max-old-space-size=64 --no-warnings', '--cron-restart', '0']);
  let [p] = await c.online('opts');
  assert.deepEqual(p.pm2_env.node_args, ['--max-old-space-size=64', '--no-warnings']);
  assert.equal(p.pm2_env.cron_restart, undefined);
  // The new arguments reach the process.
  const cmd = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
  assert.ok(cmd.includes('--max-old-space-size=64'), cmd.join(' '));
  c.ok(['reload', 'opts', '--node-args=null']);
  [p] = await c.online('opts');
  // pm2 drops the key, so prettylist no longer shows it.
  assert.equal('node_args' in p.pm2_env, false);
  assert.doesNotMatch(c.ok(['prettylist']).stdout, /node_args/);
  assert.ok(!fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('--max-old-space-size'), 'the process runs without them');
  // A start of a word that names the app restarts it with the start's flags.
  c.ok(['start', 'opts', '--node-args=--no-deprecation']);
  await waitFor(() => c.procs('opts')[0]?.pm2_env.node_args[0] === '--no-deprecation', { message: 'start <name> applied --node-args' });
  // Renamed, by id, then reachable by the new name only.
  c.ok(['restart', String(p.pm_id), '--name', 'renamed']);
  await c.online('renamed');
  assert.deepEqual(c.procs('opts'), []);
  assert.equal(c.procs('renamed')[0].pm2_env.restart_time, 4);
  // -a is --update-env.
  c.ok(['restart', 'renamed', '-a'], { env: { FRESH: 'yes' } });
  await waitFor(() => c.procs('renamed')[0].pm2_env.env.FRESH === 'yes', { message: '-a took the caller env' });
  // Bad values fail before anything restarts.
  const before = c.procs('renamed')[0].pm2_env.restart_time;
  for (const bad of [['--cron-restart', 'every day'], ['--max-memory-restart', 'lots'], ['--name', '']]) {
    const r = c.pm(['restart', 'renamed', ...bad]);
    assert.equal(r.status, 1, bad.join(' '));
    assert.equal(lines(r.stderr).length, 1, r.stderr);
  }
  assert.equal(c.procs('renamed')[0].pm2_env.restart_time, before);
});

test('watch state as pm2: stop turns it off, restart --watch toggles it, a restart from the file takes the file\'s', async () => {
  const c = ctx();
  const watch = (name) => c.procs(name)[0].pm2_env.watch;
  c.ok(['start', 'idle.js', '--name', 'w', '--watch']);
  await c.online('w');
  assert.equal(watch('w'), true);
  c.ok(['stop', 'w']);
  assert.equal(watch('w'), false);
  c.ok(['start', 'w']);
  await c.online('w');
  assert.equal(watch('w'), false, 'a plain start keeps it off');
  c.ok(['restart', 'w', '--watch']);
  assert.equal(watch('w'), true);
  // Watching works again: a change in the cwd restarts the app.
  const rt = c.procs('w')[0].pm2_env.restart_time;
  fs.writeFileSync(c.app('touched.js'), String(Date.now()));
  await waitFor(() => c.procs('w')[0].pm2_env.restart_time > rt, { message: 'a file change restarted the watched app' });
  c.ok(['restart', 'w', '--watch']);
  assert.equal(watch('w'), false);
  c.ok(['delete', 'w']);

  c.write('watch.config.js', `module.exports = { apps: [{ name: 'fw', script: 'idle.js', watch: true }] };`);
  c.ok(['start', 'watch.config.js']);
  await c.online('fw');
  c.ok(['stop', 'watch.config.js']);
  assert.equal(watch('fw'), false);
  c.ok(['restart', 'watch.config.js']);
  await c.online('fw');
  assert.equal(watch('fw'), true, 'the file says watch: true');
  assert.equal(c.procs('fw')[0].pm2_env.restart_time, 0, 'restarting a stopped app is no restart, as pm2');
});

test('a number names an app of that name before an id (#1937); -x only forces fork mode', async () => {
  const c = ctx();
  c.ok(['start', 'idle.js', '--name', 'first']);
  c.ok(['start', 'idle.js', '--name', '0', '-f']);
  await c.online('0');
  c.ok(['restart', '0']);
  await waitFor(() => c.procs('0')[0].pm2_env.restart_time === 1, { message: 'the app named 0 restarted' });
  assert.equal(c.procs('first')[0].pm2_env.restart_time, 0, 'not the app with id 0');

  c.ok(['start', 'idle.js', '--name', 'x', '-x', '-i', '2']);
  const xs = await c.online('x', { count: 2 });
  for (const p of xs) {
    assert.equal(p.pm2_env.exec_mode, 'fork_mode');
    assert.equal(p.pm2_env.exec_interpreter, 'node', 'still run by node');
  }
});

test('pm update saves, restarts the daemon and brings the apps back', async () => {
  const c = ctx();
  c.ok(['start', 'idle.js', '--name', 'kept', '-i', '2']);
  await c.online('kept', { count: 2 });
  const daemon = c.daemonPid();
  const r = c.ok(['update']);
  assert.match(r.stdout, /\[PM2\] Saving current process list/);
  assert.match(r.stdout, />>>>>>>>>> PM2 updated/);
  await c.online('kept', { count: 2 });
  assert.notEqual(c.daemonPid(), daemon, 'a new daemon');
  c.ok(['updatePM2']);
  await c.online('kept', { count: 2 });
});

/** GET on 127.0.0.1: { status, body }; `auth` is `user:pass`. */
function fetchText(port, urlPath, auth) {
  return new Promise((resolve, reject) => {
    const headers = auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {};
    require('node:http')
      .get({ host: '127.0.0.1', port, path: urlPath, headers }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

test('pm serve: pm2\'s static server with --spa, basic auth, 404.html, no way out of the root; `static` and script "serve" in a file', async () => {
  const { freePort } = require('./http-helpers');
  const c = ctx();
  const site = path.join(c.apps, 'site');
  c.write('site/index.html', '<p>home page</p>');
  c.write('site/other.html', '<p>other</p>');
  c.write('site/404.html', 'no such page');
  c.write('secret.txt', 'outside the root');
  const port = await freePort();
  const r = c.ok(['serve', site, String(port), '--name', 'front']);
  assert.match(r.stdout, new RegExp(`\\[PM2\\] Serving ${site} on port ${port}`));
  await c.online('front');
  const up = await waitFor(() => fetchText(port, '/').catch(() => false), { message: 'the server answers' });
  assert.deepEqual(up, { status: 200, body: '<p>home page</p>' });
  assert.equal((await fetchText(port, '/other.html')).body, '<p>other</p>');
  assert.deepEqual(await fetchText(port, '/nope.html'), { status: 404, body: 'no such page' });
  assert.equal((await fetchText(port, '/..%2fsecret.txt')).status, 403);
  c.ok(['delete', 'front']);

  const spa = await freePort();
  c.ok(['serve', site, String(spa), '--spa', '--basic-auth-username', 'user', '--basic-auth-password', 'pass'], { cwd: site });
  await c.online(`static-page-server-${spa}`);
  await waitFor(() => fetchText(spa, '/', 'user:pass').catch(() => false), { message: 'the spa server answers' });
  assert.equal((await fetchText(spa, '/index.html')).status, 401, 'no credentials');
  assert.equal((await fetchText(spa, '/index.html', 'user:wrong')).status, 401);
  assert.equal((await fetchText(spa, '/deep/route/here', 'user:pass')).body, '<p>home page</p>', 'spa fallback');
  assert.equal((await fetchText(spa, '/deep/route/other.html', 'user:pass')).body, '<p>other</p>');
  c.ok(['delete', 'all']);

  const [p1, p2] = [await freePort(), await freePort()];
  c.write(
    'site/eco.json',
    JSON.stringify({
      apps: [{ name: 'by-script', script: 'serve', env: { PM2_SERVE_PORT: p1, PM2_SERVE_PATH: '.' } }],
      static: [{ path: '.', port: p2, spa: true }],
    }),
  );
  c.ok(['start', 'eco.json'], { cwd: site });
  await c.online('by-script');
  await c.online(`static-page-server-${p2}`);
  for (const p of [p1, p2]) {
    const got = await waitFor(() => fetchText(p, '/index.html').catch(() => false), { message: `port ${p}` });
    assert.equal(got.body, '<p>home page</p>');
  }
  c.ok(['stop', 'eco.json'], { cwd: site });
  await assert.rejects(fetchText(p1, '/'), 'stopped: nothing listens');

  const bad = c.pm(['serve', path.join(c.apps, 'missing-dir'), '8089']);
  assert.equal(bad.status, 1);
  assert.equal(lines(bad.stderr).length, 1, bad.stderr);
  assert.match(bad.stderr, /is not a directory/);
  const badPort = c.pm(['serve', site, 'http']);
  assert.equal(badPort.status, 1);
  assert.match(badPort.stderr, /port must be a number/);
});

test('cluster reload: each old worker gets kill_signal (its SIGINT handler runs) once it has stopped accepting', async () => {
  const { freePort } = require('./http-helpers');
  const c = ctx();
  const port = await freePort();
  const notes = c.app('sigint.log');
  c.write(
    'graceful.js',
    `
const fs = require('fs');
require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGINT', () => {
  fs.appendFileSync(${JSON.stringify(notes)}, 'SIGINT ' + process.pid + '\\n');
  setTimeout(() => process.exit(0), 50);
});
setInterval(() => {}, 1000);
`,
  );
  c.ok(['start', 'graceful.js', '-i', '2', '--name', 'g'], { env: { PORT: String(port) } });
  const before = await c.online('g', { count: 2 });
  c.ok(['reload', 'g']);
  const after = await c.online('g', { count: 2 });
  for (const p of after) assert.ok(!before.some((b) => b.pid === p.pid), 'every worker replaced');
  const got = await waitFor(
    () => {
      const l = fs.existsSync(notes) ? lines(fs.readFileSync(notes, 'utf8')) : [];
      return l.length >= 2 && l;
    },
    { message: 'both old workers ran their SIGINT handler' },
  );
  assert.deepEqual(got.sort(), before.map((p) => `SIGINT ${p.pid}`).sort());
});

test('a cron restart starts a stopped app too, and stop says the cron is still up, as pm2', async () => {
  const c = ctx();
  c.ok(['start', 'idle.js', '--name', 'cronned', '--cron-restart', '*/2 * * * * *']);
  await c.online('cronned');
  const r = c.ok(['stop', 'cronned']);
  assert.match(r.stderr, /\[PM2\]\[WARN\] App cronned stopped but CRON RESTART is still UP \*\/2 \* \* \* \* \*/);
  assert.equal(c.procs('cronned')[0].pm2_env.status, 'stopped');
  const [p] = await c.online('cronned', { timeout: 5000 });
  assert.equal(p.pm2_env.restart_time, 0, 'a start, not a restart');
  // Running, the cron restarts it as before.
  await waitFor(() => c.procs('cronned')[0].pm2_env.restart_time >= 1, { timeout: 5000, message: 'cron restart' });
  c.ok(['delete', 'cronned']);
});

test('pm logrotate writes a logrotate configuration for this home that logrotate accepts and that reopens logs', () => {
  const c = ctx();
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'pm-logrotate-'));
  try {
    const r = c.ok(['logrotate', '-u', 'root'], { env: { PM_LOGROTATE_DIR: dir } });
    const file = path.join(dir, 'pm2-root');
    assert.equal(r.stdout, `[PM2] Logrotate configuration added to ${file}\n`);
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(text.startsWith(`${c.home}/pm.log ${c.home}/logs/*.log {`), text);
    assert.match(text, /reloadLogs/);
    assert.doesNotMatch(text, /copytruncate/, 'a copy-then-truncate loses lines');
    // logrotate itself parses it (debug mode changes nothing).
    const check = require('node:child_process').spawnSync('logrotate', ['-d', '-s', path.join(dir, 'state'), file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.doesNotMatch(check.stderr, /error/i, check.stderr);
    const bad = c.pm(['logrotate', '-u', 'x y'], { env: { PM_LOGROTATE_DIR: dir } });
    assert.equal(bad.status, 1);
    assert.equal(lines(bad.stderr).length, 1, bad.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
