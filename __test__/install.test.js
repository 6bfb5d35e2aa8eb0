'use strict';
// `npm install pm-native` as a user gets it, offline: the main package and this platform's
// package packed as they are published (scripts/pack.js, from the build this checkout has),
// installed from their tarballs into a fresh project with no Rust toolchain on PATH. Then the
// installed `pm` keeps an app alive, the installed library forks a child, and `pm kill` ends
// the daemon this file started.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor, isAlive, ROOT, BIN, lines } = require('./helpers');

const ctx = makeCtx(); // a private PM_HOME, a temp dir, and a cleanup by pid
after(() => ctx.cleanup());

const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const PLATFORM_PKG = require('../scripts/platform.js').packageName();
const work = ctx.apps;
const project = path.join(work, 'project');
const installedBin = path.join(project, 'node_modules', '.bin', 'pm');

function isElf(file) {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4);
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  return head.equals(Buffer.from('\x7fELF', 'latin1'));
}

/** Where `name` is found on `PATH`, or null. */
function which(name, PATH) {
  for (const dir of PATH.split(path.delimiter)) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

// A PATH with node, npm and npx but no cargo or rustc, and nothing from this checkout: the
// system's directories minus any that hold a Rust tool, plus a directory of links to the three.
const toolDir = path.join(work, 'tools');
fs.mkdirSync(toolDir);
for (const tool of ['node', 'npm', 'npx']) {
  const real = tool === 'node' ? process.execPath : which(tool, process.env.PATH);
  assert.ok(real, `${tool} on PATH`);
  fs.symlinkSync(real, path.join(toolDir, tool));
}
const PATH = [
  toolDir,
  ...process.env.PATH.split(path.delimiter).filter(
    (d) => d && !d.startsWith(ROOT) && !fs.existsSync(path.join(d, 'cargo')) && !fs.existsSync(path.join(d, 'rustc')),
  ),
].join(path.delimiter);

// The outer `npm test` exports its own npm_* settings; the install must not inherit them.
const env = { PATH, npm_config_cache: path.join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
for (const [k, v] of Object.entries(ctx.env)) {
  if (!/^(npm_|PATH$|CARGO|RUSTUP)/i.test(k)) env[k] = v;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd || project,
    env: { ...env, ...(opts.env || {}) },
    encoding: 'utf8',
    timeout: opts.timeout || 30000,
  });
  if (r.error) throw r.error;
  return r;
}

function ok(cmd, args, opts) {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

let tarballs = [];

test('pack the main and the platform package, install both offline without a Rust toolchain', () => {
  assert.ok(isElf(BIN), 'the checkout is built (bin/pm is the native binary)');
  assert.equal(which('cargo', PATH), null, 'no cargo on the PATH of the install');
  assert.equal(which('rustc', PATH), null, 'no rustc on the PATH of the install');

  const packed = ok(process.execPath, [path.join(ROOT, 'scripts', 'pack.js'), '--pack-destination', work], {
    cwd: ROOT,
    timeout: 60000,
  });
  tarballs = lines(packed.stdout);
  assert.deepEqual(
    tarballs.map((t) => path.basename(t)).sort(),
    [`pm-native-${PKG.version}.tgz`, `${PLATFORM_PKG}-${PKG.version}.tgz`],
  );

  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'install-test', private: true }));
  fs.writeFileSync(path.join(project, 'app.js'), 'setInterval(() => {}, 1000);\n');
  fs.writeFileSync(path.join(project, 'echo.js'), "process.on('message', (m) => process.send({ echo: m, pid: process.pid }));\n");
  ok('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { timeout: 60000 });

  // The postinstall put the platform package's binary in place of the JS launcher: the npm bin
  // is the native program itself.
  const pkgBin = path.join(project, 'node_modules', 'pm-native', 'bin', 'pm');
  assert.equal(fs.realpathSync(installedBin), pkgBin);
  assert.ok(isElf(pkgBin), 'bin/pm of the installed package is the native binary');
  assert.deepEqual(
    fs.readFileSync(pkgBin),
    fs.readFileSync(path.join(project, 'node_modules', PLATFORM_PKG, 'pm')),
    'bin/pm is the platform package binary',
  );
  const manifest = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', 'pm-native', 'package.json'), 'utf8'));
  assert.deepEqual(manifest.optionalDependencies, { [PLATFORM_PKG]: PKG.version });
  assert.ok(!fs.readdirSync(path.join(project, 'node_modules', 'pm-native')).some((f) => f.endsWith('.node')));
  // pm2-runtime's names are the same native binary: no Node in front of a container's PID 1.
  for (const name of ['pm-runtime', 'pm-docker']) {
    const b = path.join(project, 'node_modules', 'pm-native', 'bin', name);
    assert.equal(fs.realpathSync(path.join(project, 'node_modules', '.bin', name)), b);
    assert.deepEqual(fs.readFileSync(b), fs.readFileSync(pkgBin), `bin/${name} is the native binary`);
  }
});

let appPid = 0;

test('npx pm start app.js, then npx pm ls shows it online', async () => {
  const started = ok('npx', ['--offline', 'pm', 'start', 'app.js', '--name', 'probe']);
  assert.match(started.stdout, /\[PM2\] Done\./);
  const jlist = () => JSON.parse(ok(installedBin, ['jlist']).stdout);
  const [probe] = await waitFor(
    () => {
      const ps = jlist().filter((p) => p.name === 'probe');
      return ps.length === 1 && ps[0].pm2_env.status === 'online' && ps[0].pid > 0 && ps;
    },
    { message: 'probe online' },
  );
  appPid = probe.pid;
  ctx.track(appPid);
  assert.equal(probe.pm2_env.pm_exec_path, path.join(project, 'app.js'));

  const row = lines(ok('npx', ['--offline', 'pm', 'ls']).stdout).find((l) => l.includes(' probe '));
  assert.ok(row, 'ls has a row for probe');
  assert.match(row, /│ online +│/);
});

test('the installed pm runs without a Node start-up: ls and ping against node -e 0', (t) => {
  const time = (cmd, args) => {
    const t0 = process.hrtime.bigint();
    ok(cmd, args);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const runs = { ls: [], ping: [], node: [] };
  for (let i = 0; i < 9; i++) {
    runs.ls.push(time(installedBin, ['ls']));
    runs.ping.push(time(installedBin, ['ping']));
    runs.node.push(time(process.execPath, ['-e', '0']));
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  t.diagnostic(`median wall time: pm ls ${m.ls.toFixed(1)} ms, pm ping ${m.ping.toFixed(1)} ms, node -e 0 ${m.node.toFixed(1)} ms`);
  assert.ok(m.ls < m.node, `pm ls (${m.ls} ms) is faster than starting node (${m.node} ms)`);
  assert.ok(m.ping < m.node, `pm ping (${m.ping} ms) is faster than starting node (${m.node} ms)`);
});

test("require('pm-native').fork() from the installed package: a message round trip", async () => {
  const script = `
const { fork } = require('pm-native');
const child = fork('echo.js');
const timer = setTimeout(() => { console.error('no answer'); process.exit(2); }, 10000);
child.on('message', async (m) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ m, from: require.resolve('pm-native') }));
  await child.stop();
  process.exit(0);
});
child.send({ ping: 42 });
`;
  const r = ok('node', ['-e', script]);
  const { m, from } = JSON.parse(r.stdout);
  assert.equal(from, path.join(project, 'node_modules', 'pm-native', 'index.js'));
  assert.deepEqual(m.echo, { ping: 42 });
  await waitFor(() => !isAlive(m.pid), { message: `the forked child ${m.pid} to be gone` });
});

test('the installed pm deploy finds the deploy script it ships (host localhost runs it here)', () => {
  const srv = path.join(work, 'srv');
  fs.mkdirSync(path.join(srv, 'current'), { recursive: true });
  const config = path.join(project, 'deploy.config.js');
  fs.writeFileSync(config, `module.exports = { apps: [], deploy: { local: { host: 'localhost', repo: 'unused', ref: 'origin/main', path: ${JSON.stringify(srv)} } } };`);
  const r = ok('npx', ['--offline', 'pm', 'deploy', 'deploy.config.js', 'local', 'exec', 'pwd']);
  assert.match(r.stdout, new RegExp(`^${srv}/current$`, 'm'));
  assert.match(r.stdout, /--> Success/);
});

test('npx pm kill ends the daemon and the app', async () => {
  const daemon = ctx.daemonPid();
  assert.ok(isAlive(daemon), 'the daemon runs');
  ok('npx', ['--offline', 'pm', 'kill']);
  await waitFor(() => !isAlive(daemon), { message: `daemon ${daemon} to exit` });
  await waitFor(() => !isAlive(appPid), { message: `app ${appPid} to exit` });
});

test('without install scripts bin/pm is a launcher; without the platform package it says so in one line', () => {
  const bare = path.join(work, 'bare');
  fs.mkdirSync(bare);
  fs.writeFileSync(path.join(bare, 'package.json'), JSON.stringify({ name: 'bare-test', private: true }));
  const main = tarballs.find((t) => path.basename(t).startsWith(`pm-native-${PKG.version}`));
  const platform = tarballs.find((t) => t !== main);
  const bin = path.join(bare, 'node_modules', '.bin', 'pm');
  const install = (tgz) => ok('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tgz], { cwd: bare, timeout: 60000 });

  install(main);
  assert.ok(!fs.existsSync(path.join(bare, 'node_modules', PLATFORM_PKG)), 'no platform package offline');
  const missing = run(bin, ['ls'], { cwd: bare });
  assert.equal(missing.status, 1);
  assert.equal(missing.stdout, '');
  assert.equal(
    missing.stderr,
    `pm-native: no prebuilt binary for ${process.platform}-${process.arch} ` +
      `(install ${PLATFORM_PKG} or build from source with a Rust toolchain)\n`,
  );
  const lib = run(process.execPath, ['-e', "require('pm-native')"], { cwd: bare });
  assert.equal(lib.status, 1);
  assert.match(
    lib.stderr,
    new RegExp(`Error: pm-native: no prebuilt addon for linux-${process.arch}-gnu \\(install ${PLATFORM_PKG} or build`),
  );

  install(platform);
  assert.ok(!isElf(fs.realpathSync(bin)), 'no postinstall: bin/pm is still the JS launcher');
  assert.equal(ok(bin, ['--version'], { cwd: bare }).stdout, `${PKG.version}\n`);
  // The runtime's launcher runs `pm runtime` and exits with its status.
  fs.writeFileSync(path.join(bare, 'three.js'), "console.log('ran'); process.exit(3);\n");
  const rt = run(path.join(bare, 'node_modules', '.bin', 'pm-runtime'), ['three.js', '--no-autorestart'], { cwd: bare });
  assert.equal(rt.status, 3, rt.stderr);
  assert.ok(lines(rt.stdout).includes('ran'), rt.stdout);
});
