'use strict';
// 13. Daemon memory over a soak: 50 apps that log and exit every few seconds (each exit a
// restart), for 10 minutes (1 in --quick), under pm-native and pm2 side by side on the same
// machine. The daemon's VmRSS is read every 10 s; a flat daemon ends where it was once warm
// (after the first minute, or the first quarter of a quick run). Also its open descriptors.

const fs = require('fs');
const path = require('path');
const { rssKiB, sleep } = require('../proc');
const { row, side } = require('../measure');

const N = 50;
const APP = path.resolve(__dirname, '..', '..', 'apps', 'soak.js');

function fds(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

function restarts(tool, home) {
  return tool.jlist(home).reduce((s, p) => s + (p.pm2_env.restart_time || 0), 0);
}

module.exports = {
  id: 'soak',
  title: `Daemon memory over a soak (${N} apps restarting and logging)`,
  fleets: [],

  async run(ctx) {
    const totalMs = ctx.quick ? 60000 : 600000;
    const warmMs = ctx.quick ? 15000 : 60000;
    const tools = [ctx.pm, ctx.pm2];
    const runs = [];
    for (const tool of tools) {
      const home = ctx.lab.newHome(tool, 'soak');
      const daemonPid = await tool.ensureDaemon(home);
      const apps = Array.from({ length: N }, (_, i) => ({ name: `soak${i}`, script: APP, env: { SOAK_LIFE_MS: '6000' } }));
      const eco = path.join(ctx.lab.dir('eco'), 'ecosystem.config.js');
      fs.writeFileSync(eco, `module.exports = ${JSON.stringify({ apps })};\n`);
      tool.run(home, ['start', eco], { timeoutMs: 120000 });
      runs.push({ tool, home, daemonPid, samples: [] });
    }
    const t0 = Date.now();
    while (Date.now() - t0 < totalMs) {
      await sleep(10000);
      for (const r of runs) {
        const kib = rssKiB(r.daemonPid);
        if (kib == null) throw new Error(`${r.tool.name} daemon ${r.daemonPid} gone during the soak`);
        r.samples.push({ t: Date.now() - t0, mib: kib / 1024, fds: fds(r.daemonPid) });
      }
    }
    const out = {};
    for (const r of runs) {
      const warm = r.samples.filter((s) => s.t >= warmMs);
      const first = warm[0];
      const last = warm[warm.length - 1];
      const peak = Math.max(...warm.map((s) => s.mib));
      out[r.tool.name] = { first, last, peak, restarts: restarts(r.tool, r.home), series: r.samples };
      ctx.log(`  ${r.tool.name}: RSS ${first.mib.toFixed(1)} → ${last.mib.toFixed(1)} MiB (peak ${peak.toFixed(1)}), fds ${first.fds} → ${last.fds}, ${out[r.tool.name].restarts} restarts`);
      ctx.log(`  ${r.tool.name} series (s:MiB): ${r.samples.map((s) => `${Math.round(s.t / 1000)}:${s.mib.toFixed(1)}`).join(' ')}`);
    }
    for (const r of runs) await ctx.lab.teardown(r.home);
    const s = (name, f) => side([f(out[name])]);
    const scenario = '13 soak';
    const mins = totalMs / 60000;
    return {
      rows: [
        row({ scenario, metric: 'daemon RSS once warm', unit: 'MiB', pm: s('pm', (o) => o.first.mib), pm2: s('pm2', (o) => o.first.mib) }),
        row({ scenario, metric: `daemon RSS after ${mins} min`, unit: 'MiB', pm: s('pm', (o) => o.last.mib), pm2: s('pm2', (o) => o.last.mib) }),
        row({
          scenario,
          metric: 'daemon RSS growth once warm',
          unit: 'MiB',
          pm: s('pm', (o) => o.last.mib - o.first.mib),
          pm2: s('pm2', (o) => o.last.mib - o.first.mib),
          absTarget: { stat: 'median', op: '<=', value: 1, text: 'pm-native ≤ 1 MiB' },
          note: `${N} apps exiting every 3–9 s and logging 11 lines/s each, both tools at once`,
        }),
        row({ scenario, metric: 'restarts during the soak', unit: 'restarts', better: 'higher', pm: s('pm', (o) => o.restarts), pm2: s('pm2', (o) => o.restarts) }),
        row({ scenario, metric: 'daemon open fds at the end', unit: 'fds', pm: s('pm', (o) => o.last.fds), pm2: s('pm2', (o) => o.last.fds) }),
      ],
    };
  },
};
