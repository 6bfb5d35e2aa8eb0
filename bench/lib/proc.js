'use strict';
// Small /proc helpers. Everything here works by pid; nothing looks processes up by name.

const fs = require('fs');
const cp = require('child_process');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

let clockTicks = null;
/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream Linux). */
function clkTck() {
  if (clockTicks === null) {
    const r = cp.spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(String(r.stdout || '').trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** Parsed /proc/<pid>/stat, or null when the pid is gone. The comm field may hold spaces and ')'. */
function procStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' '); // fields[0] is field 3 (state)
  return {
    state: fields[0],
    ppid: Number(fields[1]),
    utime: Number(fields[11]), // field 14
    stime: Number(fields[12]), // field 15
    starttime: Number(fields[19]), // field 22
  };
}

/** True while the pid exists and is not a zombie (a zombie has already exited). */
function isAlive(pid) {
  if (!pid) return false;
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** VmRSS in KiB, or null. */
function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function threadCount(pid) {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** utime + stime of the process (all threads), in milliseconds. */
function cpuMs(pid) {
  const st = procStat(pid);
  if (!st) return null;
  return ((st.utime + st.stime) * 1000) / clkTck();
}

function readPidFile(file) {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function killPid(pid, signal = 'SIGKILL') {
  if (!pid || pid === process.pid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Pids of this user's processes whose *initial* environment contains `needle` (e.g.
 * `PMBENCH_RUN=<id>` or `PM_HOME=<home>`). The bench puts a per-run marker into the environment
 * of everything it starts; daemons and apps inherit it, so this finds them by pid.
 */
function pidsWithEnv(needle) {
  const found = [];
  const buf = Buffer.from(needle);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let env;
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    let at = env.indexOf(buf);
    while (at !== -1) {
      const startsEntry = at === 0 || env[at - 1] === 0;
      const endsEntry = at + buf.length === env.length || env[at + buf.length] === 0;
      if (startsEntry && endsEntry) {
        if (isAlive(pid)) found.push(pid);
        break;
      }
      at = env.indexOf(buf, at + 1);
    }
  }
  return found;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then returns null). */
async function waitFor(fn, { timeoutMs = 10000, intervalMs = 20 } = {}) {
  const end = nowMs() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (nowMs() >= end) return null;
    await sleep(intervalMs);
  }
}

/** SIGKILLs each pid that is still alive; returns the pids it had to kill. */
function killAll(pids) {
  const killed = [];
  for (const pid of pids) if (isAlive(pid) && killPid(pid, 'SIGKILL')) killed.push(pid);
  return killed;
}

module.exports = {
  sleep,
  nowMs,
  clkTck,
  procStat,
  isAlive,
  rssKiB,
  threadCount,
  cpuMs,
  readPidFile,
  killPid,
  killAll,
  pidsWithEnv,
  waitFor,
};
