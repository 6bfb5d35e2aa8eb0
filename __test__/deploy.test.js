'use strict';
// `pm deploy` as pm2 users run it: a real sshd on 127.0.0.1 (its own config, host key and
// authorized key in a temp dir, ended by pid), a real git origin, and the ecosystem file's
// `deploy` section. setup clones on the "remote", a deploy resets to the ref and runs the
// default post-deploy (`pm startOrRestart <file> --env <env>`, with the section's env), then a
// second release, curr / list / revert, and bad input.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { makeCtx, waitFor, isAlive } = require('./helpers');

const ctx = makeCtx();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-deploy-'));
let sshd = null;
after(() => {
  if (sshd && sshd.exitCode === null) sshd.kill('SIGKILL');
  ctx.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'pm-native test',
  GIT_AUTHOR_EMAIL: 'test@pm-native',
  GIT_COMMITTER_NAME: 'pm-native test',
  GIT_COMMITTER_EMAIL: 'test@pm-native',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmp,
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: GIT_ENV, timeout: 60000, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function connects(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

/** sshd on 127.0.0.1:port that lets this user in with `key`, with pm on the session's PATH. */
async function startSshd(port) {
  const dir = path.join(tmp, 'sshd');
  fs.mkdirSync(dir);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  // root's sshd insists on its privilege separation directory.
  if (process.getuid() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const sessionPath = [path.dirname(ctx.bin), path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `SetEnv PATH=${sessionPath} PM_HOME=${ctx.home}`,
      '',
    ].join('\n'),
  );
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr.on('data', (d) => (log += d));
  await waitFor(() => connects(port), { message: () => `sshd on ${port}: ${log}` });
  return path.join(dir, 'client_key');
}

const APP = (version) => `
const fs = require('fs');
fs.writeFileSync(process.env.OUT, JSON.stringify({ version: ${JSON.stringify(version)}, greeting: process.env.GREETING, by: process.env.DEPLOYED_BY }));
setInterval(() => {}, 1000);
`;

function commit(work, version) {
  fs.writeFileSync(path.join(work, 'app.js'), APP(version));
  run('git', ['add', '-A'], { cwd: work });
  run('git', ['commit', '-q', '-m', version], { cwd: work });
  run('git', ['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
  return run('git', ['rev-parse', 'HEAD'], { cwd: work }).trim();
}

test('setup, deploy, a second release, curr, list and revert over a real ssh server', async () => {
  const port = await freePort();
  const key = await startSshd(port);
  const origin = path.join(tmp, 'origin.git');
  const work = path.join(tmp, 'work');
  const srv = path.join(tmp, 'srv');
  const out = path.join(tmp, 'app-state.json');
  run('git', ['init', '-q', '--bare', '-b', 'main', origin]);
  run('git', ['clone', '-q', origin, work]);
  run('git', ['checkout', '-q', '-b', 'main'], { cwd: work });
  fs.writeFileSync(path.join(work, '.gitignore'), 'node_modules\n');
  const user = os.userInfo().username;
  fs.writeFileSync(
    path.join(work, 'ecosystem.config.js'),
    `module.exports = ${JSON.stringify(
      {
        apps: [{ name: 'deployed', script: 'app.js', env: { OUT: out }, env_production: { GREETING: 'production' } }],
        deploy: {
          production: {
            user,
            host: '127.0.0.1',
            port, // a number: pm2 drops it, pm-native passes it on
            key,
            ssh_options: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes', 'LogLevel=ERROR'],
            repo: origin,
            ref: 'origin/main',
            path: srv,
            env: { deployed_by: "pm-native's test" },
          },
        },
      },
      null,
      2,
    )};\n`,
  );
  const first = commit(work, 'v1');
  run('git', ['branch', '-q', '--set-upstream-to=origin/main'], { cwd: work });

  const setup = ctx.ok(['deploy', 'ecosystem.config.js', 'production', 'setup'], { cwd: work, timeout: 60000 });
  assert.match(setup.stdout, /--> Deploying to production environment/);
  assert.match(setup.stdout, /--> on host 127\.0\.0\.1/);
  assert.match(setup.stdout, /--> Success/);
  assert.ok(fs.existsSync(path.join(srv, 'source', 'app.js')), 'setup cloned the repository');
  assert.equal(fs.readlinkSync(path.join(srv, 'current')), path.join(srv, 'source'));
  assert.ok(fs.existsSync(path.join(srv, 'shared', 'logs')));

  const d1 = ctx.ok(['deploy', 'ecosystem.config.js', 'production'], { cwd: work, timeout: 60000 });
  assert.match(d1.stdout, /--> Success/);
  const [p1] = await ctx.online('deployed');
  assert.equal(p1.pm2_env.pm_cwd, path.join(srv, 'source'));
  await waitFor(() => fs.existsSync(out), { message: 'the deployed app ran' });
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), { version: 'v1', greeting: 'production', by: "pm-native's test" });

  // A second release, deployed with the file found by default: the same app restarts on it.
  const second = commit(work, 'v2');
  fs.rmSync(out);
  const d2 = ctx.ok(['deploy', 'production'], { cwd: work, timeout: 60000 });
  assert.match(d2.stdout, /--> Success/);
  await waitFor(() => fs.existsSync(out) && JSON.parse(fs.readFileSync(out, 'utf8')).version === 'v2', { message: 'v2 running' });
  const [p2] = ctx.procs('deployed');
  assert.equal(p2.pm2_env.restart_time, 1, 'startOrRestart restarted the app');
  assert.equal(ctx.procs('deployed').length, 1);
  assert.equal(isAlive(p1.pid), false, 'the v1 process is gone');

  assert.match(ctx.ok(['deploy', 'production', 'curr'], { cwd: work }).stdout, new RegExp(second.slice(0, 7)));
  const list = ctx.ok(['deploy', 'production', 'list'], { cwd: work }).stdout;
  assert.match(list, new RegExp(`0\\t${second}`));
  assert.match(list, new RegExp(`1\\t${first}`));

  fs.rmSync(out);
  ctx.ok(['deploy', 'production', 'revert', '1'], { cwd: work, timeout: 60000 });
  await waitFor(() => fs.existsSync(out) && JSON.parse(fs.readFileSync(out, 'utf8')).version === 'v1', { message: 'v1 running again after revert' });
  assert.match(ctx.ok(['deploy', 'production', 'curr'], { cwd: work }).stdout, new RegExp(first.slice(0, 7)));

  // exec runs a command in the current release.
  assert.match(ctx.ok(['deploy', 'production', 'exec', 'cat app.js'], { cwd: work }).stdout, /"v1"/);
  ctx.ok(['delete', 'deployed']);

  // A host nobody answers on fails the deploy with a non-zero exit, naming the failure.
  const dead = await freePort();
  const conf = fs.readFileSync(path.join(work, 'ecosystem.config.js'), 'utf8').replace(`"port": ${port}`, `"port": ${dead}`);
  fs.writeFileSync(path.join(tmp, 'dead.config.js'), conf);
  const r = ctx.pm(['deploy', path.join(tmp, 'dead.config.js'), 'production', 'curr'], { cwd: work });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\[PM2\]\[ERROR\] Deploy failed with exit code: \d+/);
});

test('deploy help, an unknown environment and a bad section are clear, one-line, non-zero', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'bad-'));
  const help = ctx.ok(['deploy', 'help'], { cwd: dir });
  assert.match(help.stdout, /setup\s+run remote setup commands/);
  const none = ctx.pm(['deploy', 'production'], { cwd: dir });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^\[PM2\]\[ERROR\] no deployment file here; looked for ecosystem\.json, .*package\.json\n$/);

  fs.writeFileSync(
    path.join(dir, 'ecosystem.config.js'),
    `module.exports = { apps: [{ script: 'a.js' }], deploy: { production: { host: 'h', repo: 'r' }, odd: 'x' } };`,
  );
  for (const [args, why] of [
    [['deploy', 'staging'], /^\[PM2\]\[ERROR\] staging environment is not defined in ecosystem\.config\.js file\n$/],
    [['deploy', 'ecosystem.config.js', 'production'], /^\[PM2\]\[ERROR\] deploy\.production: path, ref missing\n$/],
    [['deploy', 'odd'], /^\[PM2\]\[ERROR\] deploy\.odd in ecosystem\.config\.js must be an object\n$/],
  ]) {
    const r = ctx.pm(args, { cwd: dir });
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, why);
  }
  // Without an environment, pm2 prints its helper and succeeds.
  assert.match(ctx.ok(['deploy', 'ecosystem.config.js'], { cwd: dir }).stdout, /Helper: Deployment/);
});
