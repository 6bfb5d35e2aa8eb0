'use strict';
// Shared plumbing for the end-to-end suite: a private PM_HOME per test file, the native CLI run
// against it, fixture apps, a deadline poller, and a cleanup that never leaves a daemon or an app
// behind. Every process is found and ended by its pid (never by name).

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
/** The native CLI, as `npm install` installs it (the same file `require('..').binPath` names). */
const BIN = path.join(ROOT, 'bin', 'pm');

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Polls `fn` every `interval` ms until it returns a truthy value (which is returned), or throws
 * once `timeout` ms have passed, quoting the last value or error so a failure says what it saw.
 */
async function waitFor(fn, { timeout = 10000, interval = 25, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? last.stack || last.message : JSON.stringify(last);
      // A function message is built at the timeout, from what the condition saw last.
      const what = typeof message === 'function' ? message() : message;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Whether `pid` is a live process (a zombie waiting for its reaper counts as gone). */
function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    if (state !== 'Z' && state !== 'X') return true;
    // A zombie leader whose other threads are still exiting (one in an fsync, say) still holds
    // the process's descriptors, its listening socket among them: not gone yet.
    return fs.readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** The argv of a process, from /proc (empty when it is gone). */
function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return [];
  }
}

/** The environment of a process, from /proc (empty when it is gone or unreadable). */
function environ(pid) {
  const env = {};
  try {
    for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
  } catch {
    /* gone */
  }
  return env;
}

/** Pids of every live process whose environment has PM_HOME=`home` (daemon and apps). */
function pidsWithHome(home) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    if (environ(pid).PM_HOME === home && isAlive(pid)) out.push(pid);
  }
  return out;
}

// Fixture apps. Each idles until stopped; Node's default SIGINT action ends it.
const APPS = {
  'idle.js': 'setInterval(() => {}, 1 << 30);\n',
  // Writes what it sees (env, argv, cwd, IPC) to $DUMP_FILE atomically, then idles.
  'dump.js': `
const fs = require('fs');
const file = process.env.DUMP_FILE;
const data = {
  env: process.env,
  argv: process.argv.slice(2),
  cwd: process.cwd(),
  send: typeof process.send,
  pid: process.pid,
};
fs.writeFileSync(file + '.tmp', JSON.stringify(data));
fs.renameSync(file + '.tmp', file);
setInterval(() => {}, 1 << 30);
`,
  // Eight known lines on each stream, then idles.
  'logger.js': `
for (let i = 1; i <= 8; i++) {
  console.log('out line ' + i);
  console.error('err line ' + i);
}
setInterval(() => {}, 1 << 30);
`,
};

/**
 * A private world for one test file: PM_HOME (a fresh temp dir, or `home` when given), a folder
 * of fixture apps, the CLI bound to both, and `cleanup()` for `after()`.
 */
function makeCtx({ home: givenHome } = {}) {
  const home = givenHome || fs.mkdtempSync(path.join(os.tmpdir(), 'pm-test-'));
  const apps = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-test-apps-'));
  const env = { ...process.env, PM_HOME: home };
  delete env.PM2_HOME;
  delete env.NODE_TEST_CONTEXT; // node --test's own marker; apps are not test files
  for (const [name, code] of Object.entries(APPS)) fs.writeFileSync(path.join(apps, name), code);
  const tracked = new Set();

  const ctx = {
    home,
    apps,
    env,
    bin: BIN,
    /** Absolute path of a fixture app. */
    app: (name) => path.join(apps, name),
    /** Writes an extra fixture file (mode 0644 unless given) and returns its path. */
    write(rel, text, mode) {
      const p = path.isAbsolute(rel) ? rel : path.join(apps, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text);
      if (mode) fs.chmodSync(p, mode);
      return p;
    },
    /** Runs the CLI synchronously: { status, stdout, stderr, signal }. */
    pm(args, opts = {}) {
      const r = spawnSync(BIN, args, {
        env: { ...env, ...(opts.env || {}) },
        cwd: opts.cwd || apps,
        input: opts.input,
        encoding: 'utf8',
        timeout: opts.timeout || 30000,
        maxBuffer: 64 * 1024 * 1024,
      });
      if (r.error) throw r.error;
      return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    },
    /** Runs the CLI and fails loudly unless it exits 0. */
    ok(args, opts) {
      const r = ctx.pm(args, opts);
      if (r.status !== 0) {
        throw new Error(`pm ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      }
      return r;
    },
    /** Runs the CLI without blocking the event loop. */
    pmAsync(args, opts = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(BIN, args, {
          env: { ...env, ...(opts.env || {}) },
          cwd: opts.cwd || apps,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout || 30000);
        child.on('error', reject);
        child.on('close', (status, signal) => {
          clearTimeout(timer);
          resolve({ status, signal, stdout, stderr });
        });
      });
    },
    /** The parsed `pm jlist`. */
    jlist() {
      const r = ctx.ok(['jlist']);
      return JSON.parse(r.stdout);
    },
    /** The jlist entries named `name`. */
    procs(name) {
      return ctx.jlist().filter((p) => p.name === name);
    },
    /** Waits until every app named `name` (at least `count`) is online with a pid; returns them. */
    async online(name, { count = 1, timeout = 10000 } = {}) {
      const got = await waitFor(
        () => {
          const ps = ctx.procs(name);
          return ps.length === count && ps.every((p) => p.pm2_env.status === 'online' && p.pid > 0) && ps;
        },
        { timeout, message: `${count} online app(s) named ${name}` },
      );
      for (const p of got) tracked.add(p.pid);
      return got;
    },
    /** Remembers an app pid so cleanup kills it even if the daemon did not. */
    track(pid) {
      if (pid) tracked.add(pid);
    },
    /** The daemon's pid from $PM_HOME/pm.pid, or 0. */
    daemonPid() {
      try {
        return Number(fs.readFileSync(path.join(home, 'pm.pid'), 'utf8').trim()) || 0;
      } catch {
        return 0;
      }
    },
    /** `pm kill`, then SIGKILL by pid for the daemon and any app left, then rm -rf. */
    cleanup() {
      const daemon = ctx.daemonPid();
      try {
        spawnSync(BIN, ['kill'], { env, cwd: apps, encoding: 'utf8', timeout: 20000 });
      } catch {
        /* the backstop below handles it */
      }
      const victims = new Set([daemon, ...tracked, ...pidsWithHome(home)]);
      for (const pid of victims) {
        if (!pid || pid === process.pid) continue;
        if (!isAlive(pid)) continue;
        // Only our own processes: the daemon named by our pm.pid, or one carrying our PM_HOME
        // (the daemon and every app get it), so a recycled pid is never hit.
        const ours = environ(pid).PM_HOME === home || (pid === daemon && cmdline(pid).includes('daemon'));
        if (!ours) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(apps, { recursive: true, force: true });
    },
  };
  return ctx;
}

/** The lines of `text` without the empty last one a trailing newline leaves. */
function lines(text) {
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

module.exports = {
  ROOT,
  BIN,
  UUID_V4,
  waitFor,
  isAlive,
  cmdline,
  environ,
  pidsWithHome,
  makeCtx,
  lines,
};
