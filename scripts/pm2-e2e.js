#!/usr/bin/env node
// Runs pm2's own bash e2e scripts (Unitech/pm2 test/e2e) against pm-native's `pm`, the way
// pm2's test/e2e.sh runs them: one script at a time, from the checkout's root, each in a
// throw-away HOME with PM2_HOME=$HOME/.pm2, retried once on failure as pm2's `runTest` does.
// The scripts are unchanged: include.sh looks for `bin/pm2` under the checkout, and that one
// file is a link to pm-native's binary.
//
//   npm run test:pm2-e2e                 all the scripts pm2's e2e.sh runs
//   npm run test:pm2-e2e -- cli/reload   only those whose path contains a filter
//
// Where the scripts come from: PM2_E2E_REPO (a git URL or a local clone; default pm2's public
// repository), checked out at the commit pinned below, into .pm2-e2e/ (kept between runs).
// PM2_E2E_BIN tests another pm binary; PM2_E2E_TIMEOUT_MS bounds each script (default 600 s).
// Needs git, bash and bc, as pm2's own run does.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync, spawn } = require('child_process');

const root = path.join(__dirname, '..');
const REPO = process.env.PM2_E2E_REPO || 'https://github.com/Unitech/pm2.git';
/** pm2 7.0.3 plus the README change after it: the e2e scripts of the 7.0 line. */
const COMMIT = '31adee8048dbbc1ee36a7df7cdbcaca2559708df';
// internals/infinite-loop.sh alone sleeps 200 s by design.
const PER_SCRIPT_MS = Number(process.env.PM2_E2E_TIMEOUT_MS || 600000);
/** The binary under test: the checkout's bin/pm unless PM2_E2E_BIN names another. */
const PM = path.resolve(process.env.PM2_E2E_BIN || path.join(root, 'bin', 'pm'));

/**
 * Scripts of pm2's e2e.sh that test something pm-native does not offer, with the reason. They
 * are run only when named by a filter, and are not counted in the score.
 */
const NOT_OFFERED = {
  'cli/extra-lang.sh': 'needs php-cli, which the test machine does not have',
  'modules/module.sh': 'installs pm2 modules from the npm registry; pm-native has no module system',
  'modules/module-safeguard.sh': 'installs pm2 modules from the npm registry; pm-native has no module system',
  'cli/monit.sh': 'pm2.io monitoring flags (monitor/unmonitor set _km_monitored for pm2.io); not offered',
  'internals/options-via-env.sh': 'PM2_DEEP_MONITORING turns on pm2.io\'s deep metrics agent; not offered',
  'misc/inside-pm2.sh': "its app loads pm2's own library from the checkout (require('../..')), not the CLI under test",
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || String(r.error || '')).trim().split('\n').pop();
    throw new Error(`${cmd} ${args.join(' ')}: ${why}`);
  }
  return r.stdout;
}

/** A checkout of pm2 at COMMIT, fetched once. */
function checkout() {
  const dir = path.join(root, '.pm2-e2e', 'pm2');
  if (!fs.existsSync(path.join(dir, '.git'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    console.log(`fetching pm2's e2e scripts from ${REPO}`);
    run('git', ['clone', '--quiet', '--no-checkout', REPO, dir]);
  }
  // Every run from a clean tree: a script that wrote into the fixtures must not change the next run.
  run('git', ['-C', dir, 'checkout', '--quiet', '--force', COMMIT]);
  run('git', ['-C', dir, 'clean', '--quiet', '-fdx', 'test']);
  // The one change: `bin/pm2`, which include.sh runs, is pm-native's binary.
  const pm = PM;
  if (!fs.existsSync(pm)) throw new Error(`no ${pm}: run \`npm run build\` first`);
  const link = path.join(dir, 'bin', 'pm2');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(pm, link);
  return dir;
}

/** The scripts pm2's own test/e2e.sh runs, in its order (the commented-out ones left out). */
function scripts(dir) {
  const text = fs.readFileSync(path.join(dir, 'test', 'e2e.sh'), 'utf8');
  return [...text.matchAll(/^\s*runTest\s+\.\/test\/e2e\/(\S+)/gm)].map((m) => m[1]);
}

function once(dir, script, home) {
  return new Promise((resolve) => {
    // A login shell's USER, which some scripts pass on (`startup -u $USER`).
    const user = process.env.USER || os.userInfo().username;
    const env = { ...process.env, HOME: home, USER: user, PM2_HOME: path.join(home, '.pm2'), PM2_SILENT: 'true' };
    delete env.PM_HOME;
    const child = spawn('bash', [path.join('test', 'e2e', script)], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[timed out after ${PER_SCRIPT_MS} ms]\n`;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, PER_SCRIPT_MS);
    // The script's own status decides, as in pm2's runTest: what it left in the background
    // (`$pm2 logs ... &`, which holds our pipe) is ended with its process group, not waited for.
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      const done = () => resolve({ ok: code === 0, out });
      child.stdout.destroyed && child.stderr.destroyed ? done() : child.on('close', done);
    });
  });
}

/** Ends the daemon a script left behind, by the pid it wrote. */
function killDaemon(home) {
  spawnSync(PM, ['kill'], { env: { ...process.env, HOME: home, PM2_HOME: path.join(home, '.pm2') }, stdio: 'ignore', timeout: 15000 });
  for (const f of ['pm.pid', 'pm2.pid']) {
    const pid = Number(fs.existsSync(path.join(home, '.pm2', f)) && fs.readFileSync(path.join(home, '.pm2', f), 'utf8'));
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}

async function main() {
  const filters = process.argv.slice(2);
  const dir = checkout();
  const all = scripts(dir);
  const chosen = filters.length ? all.filter((s) => filters.some((f) => s.includes(f))) : all.filter((s) => !NOT_OFFERED[s]);
  const logs = path.join(root, '.pm2-e2e', 'logs');
  fs.rmSync(logs, { recursive: true, force: true });
  fs.mkdirSync(logs, { recursive: true });
  const results = [];
  for (const script of chosen) {
    const t0 = Date.now();
    let r;
    let tries = 0;
    do {
      tries++;
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-e2e-home-'));
      try {
        r = await once(dir, script, home);
      } finally {
        killDaemon(home);
        fs.rmSync(home, { recursive: true, force: true });
      }
      fs.writeFileSync(path.join(logs, `${script.replace(/\//g, '_')}.${tries}.log`), r.out);
    } while (!r.ok && tries < 2);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const last = r.ok ? '' : `  ${(r.out.match(/######## ✘ .*|\[timed out.*\]/g) || ['exit non-zero']).pop()}`;
    console.log(`${r.ok ? 'pass' : 'FAIL'}  ${script}  ${secs}s${tries > 1 && r.ok ? ' (on retry)' : ''}${last}`);
    results.push({ script, ok: r.ok });
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`\n${passed}/${results.length} of pm2's e2e scripts pass (logs in .pm2-e2e/logs)`);
  if (!filters.length) {
    console.log(`left out, not offered by pm-native:`);
    for (const [s, why] of Object.entries(NOT_OFFERED)) if (all.includes(s)) console.log(`  ${s}: ${why}`);
  }
  process.exitCode = passed === results.length ? 0 : 1;
}

main().catch((e) => {
  console.error(`pm2-e2e: ${e.message}`);
  process.exitCode = 1;
});
