'use strict';
// 6. Idle CPU with 50 apps: utime+stime delta of the daemon pid (/proc/<pid>/stat, 10 ms ticks)
// over a window (20 s; quick 5 s). Both daemons are measured in the same windows, so background
// load hits both alike. Second row: the 50 apps' own CPU in the same windows.

const { cpuMs, sleep } = require('../proc');
const { row, side } = require('../measure');

const N = 50;

module.exports = {
  id: 'idle-cpu',
  title: `Idle CPU, ${N} apps`,
  fleets: [N],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const fleets = { pm: await ctx.fleets.get(pm, N), pm2: await ctx.fleets.get(pm2, N) };
    const windowMs = ctx.quick ? 5000 : 20000;
    const daemon = { pm: [], pm2: [] };
    const apps = { pm: [], pm2: [] };
    const appCpu = (f) => f.appPids.reduce((s, p) => s + (cpuMs(p) || 0), 0);
    await sleep(1000);
    for (let i = 0; i < reps; i++) {
      const before = {};
      for (const k of ['pm', 'pm2']) before[k] = { d: cpuMs(fleets[k].daemonPid), a: appCpu(fleets[k]) };
      await sleep(windowMs);
      for (const k of ['pm', 'pm2']) {
        const d = cpuMs(fleets[k].daemonPid);
        if (d == null || before[k].d == null) continue;
        daemon[k].push(d - before[k].d);
        apps[k].push(appCpu(fleets[k]) - before[k].a);
      }
    }
    const w = `${windowMs / 1000} s`;
    return {
      rows: [
        row({
          scenario: '6 idle CPU',
          metric: `daemon CPU per ${w}, ${N} apps`,
          unit: 'ms',
          pm: side(daemon.pm),
          pm2: side(daemon.pm2),
          target: { op: '<=', value: 1 / 10, text: '≤ 1/10 of pm2' },
          note: `${reps} windows of ${w}, both daemons in the same windows; 10 ms tick resolution`,
        }),
        row({ scenario: '6 idle CPU', metric: `the ${N} apps' CPU per ${w}`, unit: 'ms', pm: side(apps.pm), pm2: side(apps.pm2) }),
      ],
    };
  },
};
