'use strict';
// 12. The app preload's cost on a Node start. Every process gets a Node IPC channel and
// PM_NATIVE_DAEMON_PID naming the bench, as the daemon's apps do, so the preload takes its whole
// path (it does nothing in a process the daemon did not start).
// - In the process: the time `require(app-preload.js)` takes in a fresh node (what runs before
//   the app's first line), and apart, `require(app-metrics.js)` (what it loads on the first turn
//   of the loop, after the app's own start-up code). This is the target row: a node start varies
//   by more than the preload costs, so only the in-process clock resolves it.
// - End to end: `node -r app-preload.js app.js` against `node app.js`, from the spawn to the
//   app's first line on stdout, pairs alternating which goes first.

const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const { nowMs } = require('../proc');
const { row, side, skipped } = require('../measure');
const { median } = require('../stats');

const REPO = path.resolve(__dirname, '..', '..', '..');
const PRELOAD = path.join(REPO, 'lib', 'app-preload.js');

/** Spawns one app; resolves to { line, exit } in ms from the spawn. */
function once(ctx, app, withPreload) {
  return new Promise((resolve, reject) => {
    const args = withPreload ? ['--require', PRELOAD, app] : [app];
    const env = { ...ctx.lab.baseEnv(), PM_NATIVE_DAEMON_PID: String(process.pid), name: 'preload-bench', exec_mode: 'fork_mode' };
    const t0 = nowMs();
    const h = ctx.lab.spawnChild(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let line = null;
    h.child.stdout.once('data', () => (line = nowMs() - t0));
    h.done.then((r) => {
      if (r.code !== 0 || line == null) return reject(new Error(`${withPreload ? 'with' : 'without'} preload: exit ${r.code ?? r.signal}, ${r.stderr.trim().split('\n').pop()}`));
      resolve({ line, exit: r.ms });
    });
  });
}

/** A fresh node that times one require of `file`; resolves to the ms it took. */
function timedRequire(ctx, file) {
  const script = `const t = process.hrtime.bigint(); require(${JSON.stringify(file)}); const ms = Number(process.hrtime.bigint() - t) / 1e6; process.stdout.write(String(ms)); process.exit(0);`;
  const env = { ...ctx.lab.baseEnv(), PM_NATIVE_DAEMON_PID: String(process.pid), name: 'preload-bench', exec_mode: 'fork_mode' };
  const h = ctx.lab.spawnChild(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  return h.done.then((r) => {
    const ms = Number(r.stdout);
    if (r.code !== 0 || !Number.isFinite(ms)) throw new Error(`timing ${path.basename(file)}: exit ${r.code ?? r.signal}, ${r.stderr.trim().split('\n').pop()}`);
    return ms;
  });
}

module.exports = {
  id: 'preload',
  title: "The app preload's cost on a Node start",
  fleets: [],

  async run(ctx) {
    const app = path.join(ctx.lab.dir('preload'), 'first-line.js');
    fs.writeFileSync(app, "console.log('up');\n");
    const reps = ctx.quick ? 15 : 40;
    const s = { withLine: [], withoutLine: [], withExit: [], withoutExit: [], lineCost: [], exitCost: [] };
    for (let i = 0; i < 3; i++) await once(ctx, app, i % 2 === 0); // page cache, node's code cache
    for (let i = 0; i < reps; i++) {
      const order = i % 2 ? [false, true] : [true, false];
      const r = {};
      for (const withPreload of order) r[withPreload] = await once(ctx, app, withPreload);
      s.withLine.push(r.true.line);
      s.withoutLine.push(r.false.line);
      s.withExit.push(r.true.exit);
      s.withoutExit.push(r.false.exit);
      s.lineCost.push(r.true.line - r.false.line);
      s.exitCost.push(r.true.exit - r.false.exit);
    }
    const METRICS = path.join(REPO, 'lib', 'app-metrics.js');
    const inProcess = { preload: [], metrics: [] };
    for (let i = 0; i < reps; i++) {
      inProcess.preload.push(await timedRequire(ctx, PRELOAD));
      inProcess.metrics.push(await timedRequire(ctx, METRICS));
    }
    const size = fs.statSync(PRELOAD).size;
    return {
      rows: [
        row({
          scenario: '12 preload',
          metric: 'require(app-preload.js) in a fresh node, before the app runs',
          unit: 'ms',
          pm: side(inProcess.preload),
          pm2: skipped("pm2's container is not a preload"),
          absTarget: { stat: 'median', op: '<=', value: 3, text: '< 3 ms' },
          note: `${reps} fresh processes, IPC channel and daemon pid as under the daemon; app-preload.js is ${size} bytes. After start-up (first turn of the loop) it loads app-metrics.js: ${median(inProcess.metrics).toFixed(2)} ms (median; PM_NATIVE_APP_METRICS=false skips it)`,
        }),
        row({
          scenario: '12 preload',
          metric: 'node app.js → first line, with the preload',
          unit: 'ms',
          pm: side(s.withLine),
          pm2: skipped("pm2's container is not a preload"),
          ref: { label: 'node app.js', samples: s.withoutLine },
          note: `${reps} pairs, alternating which goes first; a node start varies by more than the difference`,
        }),
        row({
          scenario: '12 preload',
          metric: 'with − without the preload, first line, per pair',
          unit: 'ms',
          pm: side(s.lineCost),
          pm2: skipped("pm2's container is not a preload"),
          note: `until the app has exited on its own (app-metrics.js loaded after start-up included): median ${median(s.exitCost).toFixed(2)} ms more (${median(s.withExit).toFixed(1)} vs ${median(s.withoutExit).toFixed(1)} ms)`,
        }),
      ],
    };
  },
};
