'use strict';
// Plumbing for the library-mode suites (fork, Pool, the pm2 API): fixture scripts in a temp
// dir, event helpers with deadlines, and a cleanup that ends every process a test started (by
// pid, never by name). The daemon-side plumbing (PM_HOME, CLI, kill) comes from helpers.js.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { isAlive, environ } = require('./helpers');

const ROOT = path.resolve(__dirname, '..');

/** Waits for `event` on `emitter`; fails after `ms` with the event's name. */
function once(emitter, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for '${event}'`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** The next `n` 'message' events of `child`, in order. */
function messages(child, n, ms = 20000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => {
      child.off('message', on);
      reject(new Error(`timed out after ${ms} ms with ${got.length} of ${n} messages`));
    }, ms);
    function on(m) {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        child.off('message', on);
        resolve(got);
      }
    }
    child.on('message', on);
  });
}

/**
 * A temp dir of scripts (`files`: name → source), and a tracker for whatever a test forks:
 * `track(child)` remembers it; `cleanup()` stops them all and SIGKILLs stragglers by pid, but
 * only processes whose environment carries this suite's marker (`env`), so a recycled pid is
 * never hit.
 */
function fixtures(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lib-'));
  const env = { ...process.env, PM_LIB_TEST: dir };
  delete env.NODE_TEST_CONTEXT; // node --test's own marker; workers are not test files
  for (const [name, code] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), code);
  const children = new Set();
  const pids = new Set();
  return {
    dir,
    env,
    file: (name) => path.join(dir, name),
    track(child) {
      children.add(child);
      child.on('spawn', () => pids.add(child.pid));
      if (child.pid) pids.add(child.pid);
      return child;
    },
    /** Remembers a pid (say, a grandchild) to SIGKILL at cleanup if it is still alive. */
    trackPid(pid) {
      pids.add(pid);
    },
    async cleanup() {
      await Promise.all([...children].map((c) => (c.stop ? c.stop() : null)));
      for (const pid of pids) {
        if (isAlive(pid) && environ(pid).PM_LIB_TEST === dir) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { ROOT, once, messages, fixtures };
