'use strict';
// 8. Log throughput: an app writes L fixed-width lines (80 bytes, one write each) to stdout
// (1M; quick 200k) and then idles. The app is started first and triggered with SIGUSR2, so the
// CLI's and Node's start-up stay outside the clock, which runs from the signal until the out log
// holds L × 80 bytes. Then the file is checked line by line: lines lost = L − distinct valid
// sequence numbers. Reference: `node log-writer.js > file` (stdout is the file itself).

const fs = require('fs');
const path = require('path');
const { nowMs, sleep, waitFor, killPid, isAlive, killAll } = require('../proc');
const { APPS } = require('../fleet');
const { interleave, row, side } = require('../measure');

const WRITER = path.join(APPS, 'log-writer.js');
const LINE_BYTES = 80;

/** Counts the distinct, well-formed lines 0..lines-1 in `file`. */
function countLines(file, lines) {
  const seen = new Uint8Array(lines);
  let valid = 0;
  let total = 0;
  const text = fs.readFileSync(file, 'latin1');
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) break;
    total++;
    if (nl - start === LINE_BYTES - 1 && text.charCodeAt(start + 9) === 32) {
      const n = Number(text.slice(start, start + 9));
      if (Number.isInteger(n) && n >= 0 && n < lines && !seen[n]) {
        seen[n] = 1;
        valid++;
      }
    }
    start = nl + 1;
  }
  return { valid, total };
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Waits for the writer's ready file and returns its pid. */
async function writerPid(dir) {
  const f = await waitFor(() => fs.readdirSync(dir).find((x) => /^\d+$/.test(x)), { timeoutMs: 15000, intervalMs: 5 });
  if (!f) throw new Error('log writer did not start');
  return Number(f);
}

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
  const { valid, total } = countLines(file, lines);
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
    // keeps the comparison about the pipe. Rotation under load is a row of its own to come.
    pm.run(homes[pm.name], ['set', 'pm2-logrotate:max_size', '1G']);
    const underTool = (tool) => async (rep) => {
      const home = homes[tool.name];
      const name = `log${rep}`;
      const dir = ctx.lab.dir('ready');
      let pid = null;
      try {
        tool.run(home, ['start', WRITER, '--name', name], { env: { READY_DIR: dir, LOG_LINES: String(lines) } });
        pid = await writerPid(dir);
        record(tool.name, await clock(tool.outLog(home, name), pid, dir, lines, deadlineMs));
      } finally {
        tool.run(home, ['delete', name], { check: false, timeoutMs: 30000 });
        if (pid && !(await waitFor(() => !isAlive(pid), { timeoutMs: 5000 }))) killAll([pid]);
        for (const f of ['out', 'error', 'err']) fs.rmSync(path.join(home, 'logs', `${name}-${f}.log`), { force: true });
      }
    };
    const direct = async () => {
      const dir = ctx.lab.dir('ready');
      const file = path.join(dir, 'out.log');
      const fd = fs.openSync(file, 'w');
      const h = ctx.lab.spawnChild(process.execPath, [WRITER], { env: { ...ctx.lab.baseEnv(), READY_DIR: dir, LOG_LINES: String(lines) }, stdio: ['ignore', fd, 'ignore'] });
      fs.closeSync(fd);
      try {
        record('ref', await clock(file, await writerPid(dir), dir, lines, deadlineMs));
      } finally {
        await ctx.lab.stopChild(h);
        fs.rmSync(file, { force: true });
      }
    };
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
