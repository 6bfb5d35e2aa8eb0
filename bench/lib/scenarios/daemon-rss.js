'use strict';
// 4. Daemon RSS (VmRSS of the pid in pm.pid / pm2.pid; OxMgr's is the `oxmgr daemon run` the
// bench started). Idle: fresh homes, `ping`, settle, read, tear down, repeated. With 50 apps: the
// 50-app fleet's daemon, read several times (OxMgr's figure with apps is fleet-scale's 100).

const { rssKiB, sleep } = require('../proc');
const { interleave, fromRun, row } = require('../measure');
const { oxSide, toolsOf } = require('../oxmgr');

const N = 50;

/**
 * One idle daemon per tool (started in rotating order), all read after the same settle time,
 * then all torn down. An OxMgr daemon that fails costs only OxMgr's sample (in oxErrors).
 */
async function idleRound(ctx, rep, out, oxErrors) {
  const tools = toolsOf(ctx);
  const order = tools.map((_, i) => tools[(i + rep) % tools.length]);
  const started = [];
  try {
    for (const tool of order) {
      const s = { tool, home: ctx.lab.newHome(tool, 'rss'), pid: null };
      started.push(s);
      try {
        s.pid = await tool.ensureDaemon(s.home);
      } catch (e) {
        if (tool !== ctx.oxmgr) throw e;
        oxErrors.push(e.message);
      }
    }
    await sleep(ctx.quick ? 1000 : 2000);
    for (const { tool, pid } of started) {
      if (!pid) continue;
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
  oxmgr: true,

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const idleSamples = { pm: [], pm2: [], oxmgr: [] };
    const idleErrors = [];
    const oxErrors = [];
    for (let rep = 0; rep < reps; rep++) await idleRound(ctx, rep, idleSamples, oxErrors).catch((e) => idleErrors.push(e.message));
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
        row({
          scenario: '4 daemon RSS',
          metric: 'idle, no apps (VmRSS)',
          unit: 'MiB',
          pm: fromRun(idle, 'pm'),
          pm2: fromRun(idle, 'pm2'),
          peer: oxSide(ctx, idleSamples.oxmgr, [...idleErrors, ...oxErrors]),
          target,
        }),
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
