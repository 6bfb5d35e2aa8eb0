'use strict';
// 4. Daemon RSS (VmRSS of the pid in pm.pid / pm2.pid). Idle: fresh homes, `ping`, settle,
// read, tear down, repeated. With 50 apps: the 50-app fleet's daemon, read several times.

const { rssKiB, sleep } = require('../proc');
const { interleave, fromRun, row } = require('../measure');

const N = 50;

/**
 * One idle daemon per tool (started in alternating order), both read after the same settle
 * time, then both torn down.
 */
async function idleRound(ctx, rep, out) {
  const order = rep % 2 ? [ctx.pm2, ctx.pm] : [ctx.pm, ctx.pm2];
  const started = [];
  try {
    for (const tool of order) {
      const home = ctx.lab.newHome(tool, 'rss');
      started.push({ tool, home, pid: await tool.ensureDaemon(home) });
    }
    await sleep(ctx.quick ? 1000 : 2000);
    for (const { tool, pid } of started) {
      const kib = rssKiB(pid);
      if (kib == null) throw new Error(`${tool.name} daemon ${pid} gone`);
      out[tool.name].push(kib / 1024);
    }
  } finally {
    for (const { home } of started) await ctx.lab.teardown(home);
  }
}

module.exports = {
  id: 'daemon-rss',
  title: 'Daemon RSS',
  fleets: [N],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const idleSamples = { pm: [], pm2: [] };
    const idleErrors = [];
    for (let rep = 0; rep < reps; rep++) await idleRound(ctx, rep, idleSamples).catch((e) => idleErrors.push(e.message));
    const idle = { samples: idleSamples, errors: { pm: idleErrors, pm2: idleErrors } };

    const fleets = { pm: await ctx.fleets.get(pm, N), pm2: await ctx.fleets.get(pm2, N) };
    const loaded = await interleave(reps, {
      pm: async () => {
        await sleep(200);
        return rssKiB(fleets.pm.daemonPid) / 1024;
      },
      pm2: async () => {
        await sleep(200);
        return rssKiB(fleets.pm2.daemonPid) / 1024;
      },
    });
    const target = { op: '<=', value: 1 / 10, text: '≤ 1/10 of pm2' };
    return {
      rows: [
        row({ scenario: '4 daemon RSS', metric: 'idle, no apps (VmRSS)', unit: 'MiB', pm: fromRun(idle, 'pm'), pm2: fromRun(idle, 'pm2'), target }),
        row({
          scenario: '4 daemon RSS',
          metric: `${N} apps (VmRSS)`,
          unit: 'MiB',
          pm: fromRun(loaded, 'pm'),
          pm2: fromRun(loaded, 'pm2'),
          target,
          note: 'one daemon per tool, read repeatedly',
        }),
      ],
    };
  },
};
