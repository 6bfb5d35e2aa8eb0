'use strict';
// 8. Log throughput: an app writes L fixed-width lines (80 bytes, one write each) to stdout
// (1M; quick 200k) and then idles. The app is started first and triggered with SIGUSR2, so the
// CLI's and Node's start-up stay outside the clock, which runs from the signal until the out log
// holds L × 80 bytes. Then the file is checked line by line: lines lost = L − distinct valid
// sequence numbers. Reference: `node log-writer.js > file` (stdout is the file itself).

const fs = require('fs');
const path = require('path');
const { nowMs, sleep, killPid } = require('../proc');
const { LINE_BYTES, countLines, fileSize, underTool: runUnder, redirected } = require('../log-lines');
const { interleave, row, side } = require('../measure');

/** Triggers the writer and clocks until `file` is complete (or stops growing after the writer is done). */
async function clock(file, pid, dir, lines, deadlineMs) {
  await sleep(200);
  const expected = lines * LINE_BYTES;
  const t0 = nowMs();
  if (!killPid(pid, 'SIGUSR2')) throw new Error(`writer ${pid} gone`);
  let lastSize = -1;
  let lastGrowth = t0;
  let ms = null;
  for (;;) {
    const size = fileSize(file);
    const t = nowMs();
    if (size >= expected) {
      ms = t - t0;
      break;
    }
    if (size !== lastSize) {
      lastSize = size;
      lastGrowth = t;
    }
    const writerDone = fs.existsSync(path.join(dir, `${pid}.done`));
    if ((writerDone && t - lastGrowth > 2000) || t - t0 > deadlineMs) break;
    await sleep(size === 0 ? 1 : 5);
  }
  const { valid, total } = countLines([file], lines);
  return { ms, lost: lines - valid, total };
}

module.exports = {
  id: 'log-throughput',
  title: 'Log throughput',
  fleets: [],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const lines = ctx.quick ? 200000 : 1000000;
    const deadlineMs = ctx.quick ? 60000 : 120000;
    const res = { ms: { pm: [], pm2: [], ref: [] }, lost: { pm: [], pm2: [], ref: [] }, rate: { pm: [], pm2: [], ref: [] } };
    const record = (key, r) => {
      res.lost[key].push(r.lost);
      if (r.ms != null) {
        res.ms[key].push(r.ms);
        res.rate[key].push(lines / (r.ms / 1000));
      }
    };
    const homes = {};
    for (const tool of [pm, pm2]) {
      homes[tool.name] = ctx.lab.newHome(tool, 'logs');
      await tool.ensureDaemon(homes[tool.name]);
    }
    // pm-native rotates at 10M by default and pm2 (without its module) never does: one file each
    // keeps the comparison about the pipe. Rotation under load is scenario log-rotation.
    pm.run(homes[pm.name], ['set', 'pm2-logrotate:max_size', '1G']);
    const underTool = (tool) => (rep) =>
      runUnder(ctx, tool, homes[tool.name], `log${rep}`, lines, async (pid, dir) => record(tool.name, await clock(tool.outLog(homes[tool.name], `log${rep}`), pid, dir, lines, deadlineMs)));
    const direct = () => redirected(ctx, 'out.log', lines, async (pid, dir, file) => record('ref', await clock(file, pid, dir, lines, deadlineMs)));
    const run = await interleave(reps, { pm: underTool(pm), pm2: underTool(pm2), ref: direct });
    for (const tool of [pm, pm2]) await ctx.lab.teardown(homes[tool.name]);

    const k = `${lines / 1000}k`;
    const sideOf = (what, key) => side(res[what][key], run.errors[key]);
    return {
      rows: [
        row({
          scenario: '8 logs',
          metric: `${k} lines → out log: throughput`,
          unit: 'lines/s',
          better: 'higher',
          pm: sideOf('rate', 'pm'),
          pm2: sideOf('rate', 'pm2'),
          ref: { label: 'node app.js > file', samples: res.rate.ref },
          target: { op: '>=', value: 1.5, text: '≥ 1.5× pm2' },
          refTarget: { op: '>=', value: 0.8, text: '≥ 0.8× direct redirect' },
          note: 'one 80-byte write per line; clock from the trigger signal to a complete out log (CLI and Node start-up excluded)',
        }),
        row({ scenario: '8 logs', metric: `${k} lines → out log: time`, unit: 'ms', pm: sideOf('ms', 'pm'), pm2: sideOf('ms', 'pm2'), ref: { label: 'node app.js > file', samples: res.ms.ref } }),
        row({
          scenario: '8 logs',
          metric: `${k} lines: lines lost`,
          unit: 'lines',
          pm: sideOf('lost', 'pm'),
          pm2: sideOf('lost', 'pm2'),
          ref: { label: 'node app.js > file', samples: res.lost.ref },
          absTarget: { stat: 'max', op: '<=', value: 0, text: '0 lost' },
        }),
      ],
    };
  },
};
