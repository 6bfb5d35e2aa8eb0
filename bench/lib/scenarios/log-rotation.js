'use strict';
// 8b. Log rotation under load: the log writer's 1M lines (80 MB; quick 200k) with max_size 10M,
// so pm-native rotates at least 5 times during the run (quick: 1+). pm-native rotates on its
// own; pm2 gets pm2-logrotate, installed from the npm registry into the run's pm2 home with
// `pm2 install`, set the same way (`max_size 10M`, `workerInterval 1`: its fastest check).
// The clock runs from the trigger signal to the last growth of the app's out files (current
// and rotated); then every file is read back: lines lost, lines written twice, and how many
// rotated files there are. Reference: `node log-writer.js > file` (no rotation).

const fs = require('fs');
const path = require('path');
const { nowMs, sleep, waitFor, killPid } = require('../proc');
const { LINE_BYTES, countLines, fileSize, underTool: runUnder, redirected } = require('../log-lines');
const { interleave, row, side } = require('../measure');

const MAX_SIZE = '10M';

/** The out log of app `name` and its rotated files (`<name>-out__<date>.log`, both tools). */
function outFiles(logDir, name) {
  const re = new RegExp(`^${name}-out(__.*)?\\.log$`);
  return fs
    .readdirSync(logDir)
    .filter((f) => re.test(f))
    .map((f) => path.join(logDir, f));
}

const total = (files) => files.reduce((n, f) => n + fileSize(f), 0);

/**
 * Triggers the writer, clocks until its lines are all in the files (or the files stop growing
 * once it is done), lets a rotation in flight finish, then counts.
 */
async function clock(logDir, name, pid, dir, lines, deadlineMs) {
  await sleep(200);
  const expected = lines * LINE_BYTES;
  const t0 = nowMs();
  if (!killPid(pid, 'SIGUSR2')) throw new Error(`writer ${pid} gone`);
  let lastSize = -1;
  let lastGrowth = t0;
  for (;;) {
    const size = total(outFiles(logDir, name));
    const t = nowMs();
    if (size !== lastSize) {
      lastSize = size;
      lastGrowth = t;
    }
    const writerDone = fs.existsSync(path.join(dir, `${pid}.done`));
    if ((writerDone && size >= expected) || (writerDone && t - lastGrowth > 2000) || t - t0 > deadlineMs) break;
    await sleep(5);
  }
  const ms = lastGrowth - t0;
  // pm2-logrotate copies a file and truncates it in the background: wait until nothing changes.
  let prev = '';
  await waitFor(
    () => {
      const now = outFiles(logDir, name)
        .map((f) => `${f}:${fileSize(f)}`)
        .join();
      const same = now === prev;
      prev = now;
      return same;
    },
    { timeoutMs: 20000, intervalMs: 1500 },
  );
  const files = outFiles(logDir, name);
  const { valid, dup } = countLines(files, lines);
  return { ms, rate: valid / (ms / 1000), lost: lines - valid, dup, rotations: files.length - 1 };
}

module.exports = {
  id: 'log-rotation',
  title: 'Log rotation under load (pm2 with pm2-logrotate)',
  fleets: [],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const lines = ctx.quick ? 200000 : 1000000;
    const deadlineMs = ctx.quick ? 60000 : 120000;
    const keys = ['pm', 'pm2', 'ref'];
    const res = Object.fromEntries(['rate', 'lost', 'dup', 'rotations'].map((m) => [m, Object.fromEntries(keys.map((k) => [k, []]))]));
    const record = (key, r) => {
      for (const m of Object.keys(res)) res[m][key].push(r[m]);
    };
    const homes = {};
    const setup = {};
    for (const tool of [pm, pm2]) {
      homes[tool.name] = ctx.lab.newHome(tool, 'rotate');
      await tool.ensureDaemon(homes[tool.name]);
    }
    try {
      // pm-native says rotation is built in and downloads nothing; pm2 fetches its module.
      for (const tool of [pm, pm2]) tool.run(homes[tool.name], ['install', 'pm2-logrotate'], { timeoutMs: 300000 });
      for (const tool of [pm, pm2]) {
        tool.run(homes[tool.name], ['set', 'pm2-logrotate:max_size', MAX_SIZE]);
        tool.run(homes[tool.name], ['set', 'pm2-logrotate:workerInterval', '1']);
      }
      const mod = await waitFor(() => pm2.jlist(homes[pm2.name]).some((p) => p.name === 'pm2-logrotate' && p.pm2_env.status === 'online'), { timeoutMs: 30000, intervalMs: 200 });
      if (!mod) throw new Error('pm2-logrotate is not online in pm2');
    } catch (e) {
      setup.error = e.message.split('\n')[0];
    }
    const underTool = (tool) => async (rep) => {
      if (setup.error) throw new Error(setup.error);
      const home = homes[tool.name];
      const name = `rot${rep}`;
      await runUnder(ctx, tool, home, name, lines, async (pid, dir) => record(tool.name, await clock(path.join(home, 'logs'), name, pid, dir, lines, deadlineMs)));
    };
    const direct = () => redirected(ctx, 'ref-out.log', lines, async (pid, dir) => record('ref', await clock(dir, 'ref', pid, dir, lines, deadlineMs)));
    const run = await interleave(reps, { pm: underTool(pm), pm2: underTool(pm2), ref: direct });
    for (const tool of [pm, pm2]) await ctx.lab.teardown(homes[tool.name]);

    const k = `${lines / 1000}k`;
    const sideOf = (what, key) => side(res[what][key], run.errors[key]);
    const scenario = '8b rotation';
    return {
      rows: [
        row({
          scenario,
          metric: `${k} lines, max_size ${MAX_SIZE}: lines/s captured`,
          unit: 'lines/s',
          better: 'higher',
          pm: sideOf('rate', 'pm'),
          pm2: sideOf('rate', 'pm2'),
          ref: { label: 'node app.js > file (no rotation)', samples: res.rate.ref },
          note: 'distinct lines found in the out log and its rotated files, over the time from the trigger signal to their last growth; pm2 rotates with pm2-logrotate (copy, then truncate), workerInterval 1 s for both',
        }),
        row({ scenario, metric: `${k} lines: rotated files`, unit: 'count', pm: sideOf('rotations', 'pm'), pm2: sideOf('rotations', 'pm2'), absTarget: { stat: 'min', op: '>=', value: ctx.quick ? 1 : 5, text: ctx.quick ? '≥ 1 rotation' : '≥ 5 rotations' } }),
        row({ scenario, metric: `${k} lines: lines lost`, unit: 'lines', pm: sideOf('lost', 'pm'), pm2: sideOf('lost', 'pm2'), ref: { label: 'node app.js > file', samples: res.lost.ref }, absTarget: { stat: 'max', op: '<=', value: 0, text: '0 lost' } }),
        row({ scenario, metric: `${k} lines: lines written twice`, unit: 'lines', pm: sideOf('dup', 'pm'), pm2: sideOf('dup', 'pm2'), absTarget: { stat: 'max', op: '<=', value: 0, text: '0 duplicated' } }),
      ],
    };
  },
};
