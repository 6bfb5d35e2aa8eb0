'use strict';
// Drivers for the process managers under test (pm-native and pm2; OxMgr when lib/oxmgr.js could
// build it), and the Lab that owns every home, daemon and child process a run starts (so that it
// can clean all of them up, by pid).

const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');
const net = require('net');
const { isAlive, killPid, killAll, pidsWithEnv, readPidFile, sleep, waitFor, nowMs } = require('./proc');
const { HOST, freePort } = require('./http');

const REPO = path.resolve(__dirname, '..', '..');
const NODE_DIR = path.dirname(process.execPath);

/** Variables that would point a tool at another home or change pm2's output. */
const SCRUB = [
  'PM_HOME',
  'PM2_HOME',
  'PM2_DISCRETE_MODE',
  'PM2_SILENT',
  'pm_id',
  'name',
  'NODE_APP_INSTANCE',
  'NODE_UNIQUE_ID',
  'NODE_CHANNEL_FD',
  'OXMGR_HOME',
  'OXMGR_DAEMON_ADDR',
  'OXMGR_API_ADDR',
];

class Tool {
  /**
   * @param {object} spec
   * @param {string} spec.name      'pm', 'pm2' or 'oxmgr' (keys in results)
   * @param {string} spec.label     for tables
   * @param {string} spec.bin       the executable, run directly (pm2's is a `#!/usr/bin/env node` script)
   * @param {(home: string) => object} [spec.homeEnv]
   * @param {string} spec.homeVar   the variable naming the home (teardown finds survivors by it)
   * @param {string} spec.pidFileName  the daemon's pid file inside the home
   */
  constructor(spec) {
    this.stopArgs = ['kill']; // stops the daemon and its apps
    this.stopGraceMs = 3000; // how long the daemon may take to exit once stopArgs has returned
    this.jlistArgs = ['jlist'];
    this.lsArgs = ['ls'];
    Object.assign(this, spec);
    this.lab = null;
  }

  pidFile(home) {
    return path.join(home, this.pidFileName);
  }

  /** Default out log of a fork-mode app (both tools: <home>/logs/<name>-out.log). */
  outLog(home, name) {
    return path.join(home, 'logs', `${name}-out.log`);
  }

  env(home, extra = {}) {
    return { ...this.lab.baseEnv(), ...this.homeEnv(home), ...extra };
  }

  /** Runs one CLI command to completion; returns { ms, status, stdout, stderr }. */
  run(home, args, { env, timeoutMs = 60000, check = true, input } = {}) {
    if (this.lab.aborted) throw new Error('aborted');
    const t0 = nowMs();
    const r = cp.spawnSync(this.bin, args, {
      env: this.env(home, env),
      cwd: this.lab.root,
      encoding: 'utf8',
      input,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 256 << 20,
    });
    const ms = nowMs() - t0;
    if (r.error) throw new Error(`${this.name} ${args.join(' ')}: ${r.error.message}`);
    if (check && r.status !== 0) {
      const why = (r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${this.name} ${args.join(' ')} exited ${r.status ?? r.signal}: ${why}`);
    }
    return { ms, status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts one CLI command without waiting; `done` resolves to { code, ms } when it exits. */
  spawn(home, args, { env } = {}) {
    return this.lab.spawnChild(this.bin, args, { env: this.env(home, env) });
  }

  /** Starts `node <script>` as app `name` with `env` in the app's environment. */
  startScript(home, script, { name, env = {}, timeoutMs } = {}) {
    return this.run(home, ['start', script, '--name', name], { env, timeoutMs });
  }

  jlist(home) {
    const r = this.run(home, this.jlistArgs, { timeoutMs: 30000 });
    const text = r.stdout.trim();
    // pm2 may print notices before the JSON; take from the first '['.
    return JSON.parse(text.slice(text.indexOf('[')));
  }

  /** Makes sure the daemon runs (`ping` starts it on demand) and returns its pid. */
  async ensureDaemon(home) {
    this.run(home, ['ping'], { timeoutMs: 30000 });
    const pid = await waitFor(() => readPidFile(this.pidFile(home)), { timeoutMs: 5000 });
    if (!pid) throw new Error(`${this.name}: no pid file in ${home} after ping`);
    this.lab.noteDaemon(home, pid);
    return pid;
  }

  daemonPid(home) {
    const pid = readPidFile(this.pidFile(home));
    if (pid) this.lab.noteDaemon(home, pid);
    return pid;
  }

  /** Waits until `n` apps are online with a pid; returns the jlist. */
  async waitOnline(home, n, timeoutMs = 60000) {
    let last = null;
    const ok = await waitFor(
      () => {
        last = this.jlist(home);
        const online = last.filter((p) => p.pid > 0 && p.pm2_env && p.pm2_env.status === 'online');
        return online.length >= n ? last : null;
      },
      { timeoutMs, intervalMs: 250 },
    );
    if (!ok) {
      const st = (last || []).map((p) => p.pm2_env && p.pm2_env.status).join(',');
      throw new Error(`${this.name}: ${n} apps not online after ${timeoutMs} ms (${st})`);
    }
    return ok;
  }
}

const pmTool = new Tool({
  name: 'pm',
  label: 'pm-native',
  bin: process.env.PMBENCH_PM_BIN || path.join(REPO, 'bin', 'pm'),
  pidFileName: 'pm.pid',
  homeVar: 'PM_HOME',
  homeEnv: (home) => ({ PM_HOME: home }),
  version() {
    const r = cp.spawnSync(this.bin, ['-v'], { encoding: 'utf8', env: this.env(this.lab.root) });
    return (r.stdout || '').trim() || null;
  },
  /** sha256 prefix and mtime of the binary: a rebuild during a run would mix two builds. */
  fingerprint() {
    try {
      const file = fs.realpathSync(this.bin);
      const sha = require('crypto').createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 12);
      return { sha256: sha, mtime: fs.statSync(file).mtime.toISOString() };
    } catch {
      return null;
    }
  },
});

const pm2Tool = new Tool({
  name: 'pm2',
  label: 'pm2',
  bin: process.env.PMBENCH_PM2_BIN || path.join(REPO, 'node_modules', '.bin', 'pm2'),
  pidFileName: 'pm2.pid',
  homeVar: 'PM2_HOME',
  homeEnv: (home) => ({ PM2_HOME: home, PM2_DISCRETE_MODE: 'true' }),
  version() {
    // Not `pm2 -v`: it starts a daemon.
    try {
      return require(path.join(REPO, 'node_modules', 'pm2', 'package.json')).version;
    } catch {
      return null;
    }
  },
});

/** Single-quotes `s` for a command line that OxMgr splits with shell-words (it runs no shell). */
function shq(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** One IPC `ping` to an OxMgr daemon (newline-delimited JSON over TCP): true when it answers ok. */
function oxmgrPing(port, timeoutMs = 250) {
  return new Promise((resolve) => {
    let buf = '';
    const sock = net.connect({ host: HOST, port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('{"type":"ping"}\n'));
    sock.on('data', (c) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        done(JSON.parse(buf.slice(0, nl)).ok === true);
      } catch {
        done(false);
      }
    });
  });
}

/**
 * OxMgr (github.com/Vladimir-Urik/OxMgr), driven as its own scripts/benchmark_oxmgr_vs_pm2.py
 * drives it: the bench runs `oxmgr daemon run` itself, so the daemon's pid is the child's pid
 * (OxMgr writes no pid file; the bench writes one into the home so that the Lab's teardown works
 * as for the others). Every home gets its own OXMGR_HOME and its own loopback ports for the CLI
 * and API endpoints: OxMgr's defaults are one fixed port per uid, which would reach the user's
 * own daemon. `daemon stop` stops the apps and the daemon.
 */
class OxmgrTool extends Tool {
  constructor({ bin, version }) {
    super({ name: 'oxmgr', label: 'OxMgr', bin, pidFileName: 'bench-daemon.pid', homeVar: 'OXMGR_HOME' });
    this.stopArgs = ['daemon', 'stop'];
    this.stopGraceMs = 20000; // `daemon stop` returns at once; the daemon then stops its apps one by one
    this.jlistArgs = ['list', '--json'];
    this.lsArgs = ['list'];
    this.versionText = version;
    this.addrs = new Map(); // home -> { daemon, api } ports
  }

  version() {
    return this.versionText;
  }

  homeEnv(home) {
    const a = this.addrs.get(home);
    // Without its address the CLI would go to (or start) a daemon on OxMgr's default port.
    if (!a) throw new Error(`oxmgr: no daemon address for ${home} (ensureDaemon first)`);
    return { OXMGR_HOME: home, OXMGR_DAEMON_ADDR: `${HOST}:${a.daemon}`, OXMGR_API_ADDR: `${HOST}:${a.api}` };
  }

  /** The app's own environment goes in `--env`: OxMgr gives apps the daemon's, not the CLI's. */
  startScript(home, script, { name, env = {}, timeoutMs } = {}) {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
    // Restarted however often it dies (the defaults stop after 3 crashes in 5 minutes), as in
    // OxMgr's own benchmark.
    const policy = ['--restart', 'always', '--max-restarts', '1000', '--crash-restart-limit', '0'];
    return this.run(home, ['start', `${shq(process.execPath)} ${shq(script)}`, '--name', name, ...envArgs, ...policy], { timeoutMs });
  }

  async ensureDaemon(home) {
    const known = this.daemonPid(home);
    if (known && isAlive(known)) return known;
    const daemon = await freePort();
    let api = await freePort();
    while (api === daemon) api = await freePort();
    this.addrs.set(home, { daemon, api });
    const logFile = path.join(home, 'daemon.log');
    const fd = fs.openSync(logFile, 'a');
    let handle;
    try {
      handle = this.lab.spawnChild(this.bin, ['daemon', 'run'], { env: this.env(home), stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    let exited = null;
    handle.done.then((r) => (exited = r));
    if (handle.pid) {
      fs.writeFileSync(this.pidFile(home), `${handle.pid}\n`);
      this.lab.noteDaemon(home, handle.pid);
    }
    const ready = await waitFor(async () => exited || (await oxmgrPing(daemon)), { timeoutMs: 10000, intervalMs: 10 });
    if (!ready || exited) {
      const tail = (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '').trim().split('\n').slice(-2).join(' | ');
      const why = exited ? (exited.error ? exited.error.message : `exited ${exited.code ?? exited.signal}`) : 'no answer to ping after 10 s';
      throw new Error(`oxmgr daemon run: ${why}${tail ? `: ${tail}` : ''}`);
    }
    return handle.pid;
  }
}

/**
 * Owns the run's temporary root, every home (with its daemon pid), and every child process the
 * bench spawns itself. Cleanup is by pid: the tool's own `kill` (OxMgr: `daemon stop`), then
 * SIGKILL of the recorded daemon pid, then SIGKILL of any process whose environment names the
 * home or the run marker.
 */
class Lab {
  constructor({ keep = false, log = () => {} } = {}) {
    this.runId = `${process.pid}-${Date.now().toString(36)}`;
    this.marker = `PMBENCH_RUN=${this.runId}`;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'pmb-'));
    this.keep = keep;
    this.log = log;
    this.homes = new Map(); // home -> { tool, daemonPids: Set<number> }
    this.children = new Set(); // handles of processes we spawned directly, until they exit
    this.pending = new Set(); // promises of teardowns finishing in the background
    this.tools = { pm: pmTool, pm2: pm2Tool };
    for (const t of Object.values(this.tools)) t.lab = this;
    this.seq = 0;
    this.aborted = false; // set by abort(): nothing new may start
  }

  /** A driver known only once the run has started (OxMgr, built by lib/oxmgr.js). */
  addTool(tool) {
    tool.lab = this;
    this.tools[tool.name] = tool;
  }

  baseEnv() {
    const env = { ...process.env };
    for (const k of SCRUB) delete env[k];
    env.PATH = `${NODE_DIR}${path.delimiter}${env.PATH || ''}`; // same node for every tool and reference
    env.PMBENCH_RUN = this.runId;
    return env;
  }

  /** A fresh, empty directory under the run root. */
  dir(tag) {
    const d = path.join(this.root, `${tag}-${++this.seq}`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  newHome(tool, tag) {
    const home = this.dir(`${tool.name}-${tag}`);
    this.homes.set(home, { tool, daemonPids: new Set() });
    return home;
  }

  noteDaemon(home, pid) {
    const h = this.homes.get(home);
    if (h) h.daemonPids.add(pid);
  }

  /** Spawns a process the bench supervises itself (references, CLI commands run async). */
  spawnChild(cmd, args, { env, stdio = ['ignore', 'pipe', 'pipe'], cwd } = {}) {
    if (this.aborted) throw new Error('aborted');
    const t0 = nowMs();
    const child = cp.spawn(cmd, args, { env: env || this.baseEnv(), stdio, cwd: cwd || this.root });
    const handle = { child, pid: child.pid, done: null };
    this.children.add(handle);
    let out = '';
    let err = '';
    if (child.stdout) child.stdout.on('data', (c) => (out.length < 1 << 20 ? (out += c) : null));
    if (child.stderr) child.stderr.on('data', (c) => (err.length < 1 << 20 ? (err += c) : null));
    const done = new Promise((resolve) => {
      child.on('error', (e) => {
        this.children.delete(handle);
        resolve({ code: -1, error: e, ms: nowMs() - t0, stdout: out, stderr: err });
      });
      child.on('exit', (code, signal) => {
        this.children.delete(handle);
        resolve({ code, signal, ms: nowMs() - t0, stdout: out, stderr: err });
      });
    });
    handle.done = done;
    return handle;
  }

  /** SIGTERM (then SIGKILL after graceMs) a child we spawned, and wait for it. */
  async stopChild(handle, graceMs = 1000) {
    if (!handle || handle.child.exitCode !== null || handle.child.signalCode !== null) return;
    killPid(handle.pid, 'SIGTERM');
    const t = setTimeout(() => killPid(handle.pid, 'SIGKILL'), graceMs);
    await handle.done;
    clearTimeout(t);
  }

  /**
   * Stops one home: the tool's `kill` (its stopArgs), then SIGKILL of whatever of it survived; removes the home.
   * Returns once the daemon has exited. A zombie counts as exited: under an init that reaps
   * slowly, `pm kill` goes on polling until the zombie is reaped, and it may finish in the
   * background (see settle()).
   */
  async teardown(home) {
    const h = this.homes.get(home);
    if (!h) return { leftover: [] };
    this.homes.delete(home);
    const { tool } = h;
    const pidNow = readPidFile(tool.pidFile(home));
    if (pidNow) h.daemonPids.add(pidNow);
    const daemonGone = () => ![...h.daemonPids].some(isAlive);
    let cli = null;
    let cliFinished = Promise.resolve();
    if (!daemonGone()) {
      cli = tool.spawn(home, tool.stopArgs);
      const timer = setTimeout(() => killPid(cli.pid, 'SIGKILL'), 20000);
      cliFinished = cli.done.then(() => clearTimeout(timer));
      await Promise.race([cliFinished, waitFor(daemonGone, { timeoutMs: 20000, intervalMs: 10 })]);
    }
    await waitFor(daemonGone, { timeoutMs: tool.stopGraceMs, intervalMs: 20 });
    const leftover = killAll([...h.daemonPids]);
    // Apps (or a daemon we never saw the pid of) that still carry this home in their environment,
    // given a moment to finish exiting. The `kill` command itself carries it too: skip it.
    const survivors = () => pidsWithEnv(`${tool.homeVar}=${home}`).filter((p) => !cli || p !== cli.pid);
    if (!(await waitFor(() => survivors().length === 0, { timeoutMs: 2000, intervalMs: 50 }))) leftover.push(...killAll(survivors()));
    if (leftover.length) this.log(`  ! ${tool.name} ${path.basename(home)}: SIGKILLed ${leftover.length} survivor(s) after \`kill\`: ${leftover.join(' ')}`);
    const removal = cliFinished.then(() => {
      if (!this.keep) fs.rmSync(home, { recursive: true, force: true });
    });
    this.pending.add(removal);
    removal.then(() => this.pending.delete(removal));
    return { leftover };
  }

  /** Waits for the tails of earlier teardowns (`kill` commands still polling, home removal). */
  async settle() {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** Tears everything down; returns the pids that had to be SIGKILLed by the final marker sweep. */
  async cleanupAll() {
    for (const home of [...this.homes.keys()]) {
      try {
        await this.teardown(home);
      } catch (e) {
        this.log(`  ! teardown ${home}: ${e.message}`);
      }
    }
    for (const handle of [...this.children]) await this.stopChild(handle, 500);
    await this.settle();
    await sleep(50);
    const swept = killAll(pidsWithEnv(this.marker));
    if (!this.keep) fs.rmSync(this.root, { recursive: true, force: true });
    return swept;
  }

  /**
   * Ctrl-C or a crash: refuses to start anything new, runs every home's `kill` at once (5 s
   * each at most), SIGKILLs the daemon pids, every child and every process with the run marker.
   */
  async abort() {
    this.aborted = true;
    const homes = [...this.homes];
    this.homes.clear();
    await Promise.all(
      homes.map(async ([home, h]) => {
        const pid = readPidFile(h.tool.pidFile(home));
        if (pid) h.daemonPids.add(pid);
        if ([...h.daemonPids].some(isAlive)) {
          const k = cp.spawn(h.tool.bin, h.tool.stopArgs, { env: h.tool.env(home), stdio: 'ignore' });
          const exited = new Promise((r) => k.once('exit', r).once('error', r));
          await Promise.race([exited, sleep(5000)]);
          killPid(k.pid, 'SIGKILL');
        }
        killAll([...h.daemonPids]);
      }),
    );
    for (const handle of this.children) killPid(handle.pid, 'SIGKILL');
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      killAll(pidsWithEnv(this.marker));
    }
    if (!this.keep) fs.rmSync(this.root, { recursive: true, force: true });
  }
}

module.exports = { Lab, Tool, OxmgrTool, REPO };
