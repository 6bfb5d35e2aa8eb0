'use strict';
// 1. CLI latency: wall time of `jlist` and `ls` with 20 idle apps running, each command a fresh
// process (spawnSync, output to a pipe). Reference: `node -e 0`. Also the A/A runs: the same
// command measured as two interleaved series, to show the noise band.

const cp = require('child_process');
const { nowMs } = require('../proc');
const { interleave, fromRun, row } = require('../measure');

const APPS = 20;

function nodeE0(env) {
  const t0 = nowMs();
  const r = cp.spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error('node -e 0 failed');
  return nowMs() - t0;
}

module.exports = {
  id: 'cli-latency',
  title: `CLI latency, ${APPS} apps running`,
  fleets: [APPS],

  async run(ctx) {
    const { pm, pm2 } = ctx;
    const fpm = await ctx.fleets.get(pm, APPS);
    const fpm2 = await ctx.fleets.get(pm2, APPS);
    for (const [tool, f] of [
      [pm, fpm],
      [pm2, fpm2],
    ]) {
      const n = tool.jlist(f.home).length;
      if (n !== APPS) throw new Error(`${tool.name} jlist shows ${n} apps, expected ${APPS}`);
    }
    const env = ctx.lab.baseEnv();
    const cmd = (tool, f, verb) => () => tool.run(f.home, [verb]).ms;
    // Warm-up: page cache, and pm2's first require of its modules.
    for (let i = 0; i < 2; i++) {
      cmd(pm, fpm, 'jlist')();
      cmd(pm2, fpm2, 'jlist')();
      nodeE0(env);
    }
    const n = ctx.quick ? 10 : 30;
    const run = await interleave(n, {
      pmJlist: cmd(pm, fpm, 'jlist'),
      pm2Jlist: cmd(pm2, fpm2, 'jlist'),
      pmLs: cmd(pm, fpm, 'ls'),
      pm2Ls: cmd(pm2, fpm2, 'ls'),
      node: () => nodeE0(env),
      // A/A: a second series of the very same commands, interleaved with the first.
      pm2JlistB: cmd(pm2, fpm2, 'jlist'),
      pmJlistB: cmd(pm, fpm, 'jlist'),
    });
    const ref = { label: 'node -e 0', samples: run.samples.node };
    const target = { op: '<=', value: 1 / 8, text: '≥ 8× faster' };
    const refTarget = { op: '<=', value: 0.5, text: '≤ 0.5× node -e 0' };
    const rows = [
      row({ scenario: '1 CLI latency', metric: `jlist, ${APPS} apps`, unit: 'ms', pm: fromRun(run, 'pmJlist'), pm2: fromRun(run, 'pm2Jlist'), ref, target, refTarget }),
      row({ scenario: '1 CLI latency', metric: `ls, ${APPS} apps`, unit: 'ms', pm: fromRun(run, 'pmLs'), pm2: fromRun(run, 'pm2Ls'), ref, target, refTarget }),
    ];
    const aa = [
      { label: `pm2 jlist vs pm2 jlist (${APPS} apps, same daemon, interleaved)`, unit: 'ms', a: run.samples.pm2Jlist, b: run.samples.pm2JlistB },
      { label: `pm jlist vs pm jlist (${APPS} apps, same daemon, interleaved)`, unit: 'ms', a: run.samples.pmJlist, b: run.samples.pmJlistB },
    ];
    return { rows, aa };
  },
};
