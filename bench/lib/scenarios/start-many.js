'use strict';
// 3. Start 50 apps on a running daemon: from one ecosystem file, and with 50 separate `start`
// commands. Two clocks from the same start: until the command(s) return, and until all 50 apps
// run (each app drops READY_DIR/<pid>, so this does not ask the process manager). Between
// repetitions `delete all` (not timed) and a check that every app pid is gone.

const fs = require('fs');
const path = require('path');
const { nowMs, waitFor, isAlive, killAll } = require('../proc');
const { APPS, writeEcosystem } = require('../fleet');
const { interleave, fromRun, row } = require('../measure');

const N = 50;
const N_SEPARATE_QUICK = 10; // pm2 needs 0.2–0.3 s per command; 50 × 3 repetitions do not fit in --quick

function readyPids(dir) {
  return fs.readdirSync(dir).filter((f) => /^\d+$/.test(f)).map(Number);
}

async function waitAllReady(dir, since, n) {
  const ok = await waitFor(() => readyPids(dir).length >= n, { timeoutMs: 60000, intervalMs: 5 });
  if (!ok) throw new Error(`only ${readyPids(dir).length}/${n} apps running after 60 s`);
  return nowMs() - since;
}

async function deleteAll(ctx, tool, home, dir) {
  const pids = readyPids(dir);
  tool.run(home, ['delete', 'all'], { timeoutMs: 60000, check: false });
  const gone = await waitFor(() => pids.every((p) => !isAlive(p)), { timeoutMs: 10000, intervalMs: 20 });
  if (!gone) {
    const killed = killAll(pids);
    ctx.log(`  ! ${tool.name}: ${killed.length} app(s) still alive 10 s after delete all; SIGKILLed`);
  }
}

module.exports = {
  id: 'start-many',
  title: `Start ${N} apps`,
  fleets: [],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const nSep = ctx.quick ? N_SEPARATE_QUICK : N;
    const homes = {};
    for (const tool of [pm, pm2]) {
      homes[tool.name] = ctx.lab.newHome(tool, 'many');
      await tool.ensureDaemon(homes[tool.name]);
    }
    const results = { cmd: {}, ready: {} };
    const record = (key, cmdMs, readyMs) => {
      (results.cmd[key] ||= []).push(cmdMs);
      (results.ready[key] ||= []).push(readyMs);
    };

    const variant = async (tool, kind) => {
      const home = homes[tool.name];
      const dir = ctx.lab.dir('ready');
      const env = { READY_DIR: dir };
      const eco = kind === 'eco' ? writeEcosystem(dir, N, { prefix: 's' }) : null;
      try {
        const t0 = nowMs();
        if (eco) tool.run(home, ['start', eco], { env, timeoutMs: 120000 });
        else for (let i = 0; i < nSep; i++) tool.run(home, ['start', path.join(APPS, 'idle.js'), '--name', `s${i}`], { env, timeoutMs: 30000 });
        const cmdMs = nowMs() - t0;
        const readyMs = await waitAllReady(dir, t0, eco ? N : nSep);
        record(`${tool.name}-${kind}`, cmdMs, readyMs);
      } finally {
        await deleteAll(ctx, tool, home, dir);
      }
    };

    // The floor on this machine: 50 bare `node idle.js` spawned at once, until all have started.
    const bare = async () => {
      const dir = ctx.lab.dir('ready');
      const env = { ...ctx.lab.baseEnv(), READY_DIR: dir };
      const t0 = nowMs();
      const handles = [];
      try {
        for (let i = 0; i < N; i++) handles.push(ctx.lab.spawnChild(process.execPath, [path.join(APPS, 'idle.js')], { env, stdio: 'ignore' }));
        return await waitAllReady(dir, t0, N);
      } finally {
        for (const h of handles) await ctx.lab.stopChild(h);
      }
    };
    const runEco = await interleave(reps, { pm: () => variant(pm, 'eco'), pm2: () => variant(pm2, 'eco'), bare });
    const runSep = await interleave(reps, { pm: () => variant(pm, 'sep'), pm2: () => variant(pm2, 'sep') });
    for (const tool of [pm, pm2]) await ctx.lab.teardown(homes[tool.name]);

    const target = { op: '<=', value: 1 / 3, text: '≥ 3× faster' };
    const pick = (what, key, run) => fromRun({ samples: { x: results[what][key] || [] }, errors: { x: run.errors[key.split('-')[0]] } }, 'x');
    return {
      rows: [
        row({
          scenario: '3 start many',
          metric: `${N} apps, 1 ecosystem file: command returns`,
          unit: 'ms',
          pm: pick('cmd', 'pm-eco', runEco),
          pm2: pick('cmd', 'pm2-eco', runEco),
          target,
          note: 'daemon already running; "all running" = every app has started (seen by the app, not the manager)',
        }),
        row({
          scenario: '3 start many',
          metric: `${N} apps, 1 ecosystem file: all running`,
          unit: 'ms',
          pm: pick('ready', 'pm-eco', runEco),
          pm2: pick('ready', 'pm2-eco', runEco),
          ref: { label: `${N} × bare node, spawned at once`, samples: runEco.samples.bare },
          target,
        }),
        row({
          scenario: '3 start many',
          metric: `${nSep} separate start commands: all returned`,
          unit: 'ms',
          pm: pick('cmd', 'pm-sep', runSep),
          pm2: pick('cmd', 'pm2-sep', runSep),
          target,
          note: nSep < N ? `--quick runs ${nSep} commands instead of ${N}` : undefined,
        }),
        row({ scenario: '3 start many', metric: `${nSep} separate start commands: all running`, unit: 'ms', pm: pick('ready', 'pm-sep', runSep), pm2: pick('ready', 'pm2-sep', runSep), target }),
      ],
    };
  },
};
