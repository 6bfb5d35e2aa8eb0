'use strict';
// 5. Per-app overhead: VmRSS of each idle app under pm-native and pm2 (the 50-app fleets)
// against the same script run bare (`node idle.js`, spawned by the bench, stdout a pipe as
// under a process manager). One sample per app process; the spread is across processes.
// Second reference: the same bare node with a Node IPC channel (stdio 'ipc', what
// child_process.fork gives): both managers give their apps one, and it costs Node ~2 MiB.

const path = require('path');
const { rssKiB, sleep } = require('../proc');
const { APPS } = require('../fleet');
const { row, side } = require('../measure');

const N = 50;

async function bareRss(ctx, count, ipc) {
  const handles = [];
  const stdio = ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  try {
    for (let i = 0; i < count; i++) handles.push(ctx.lab.spawnChild(process.execPath, [path.join(APPS, 'idle.js')], { stdio }));
    await sleep(2000); // node's RSS is flat after ~0.3 s
    return handles.map((h) => rssKiB(h.pid)).filter((x) => x != null).map((k) => k / 1024);
  } finally {
    for (const h of handles) await ctx.lab.stopChild(h);
  }
}

module.exports = {
  id: 'app-overhead',
  title: 'Per-app RSS overhead',
  fleets: [N],

  async run(ctx) {
    const { pm, pm2 } = ctx;
    const fleets = { pm: await ctx.fleets.get(pm, N), pm2: await ctx.fleets.get(pm2, N) };
    const appRss = (f) => f.appPids.map((p) => rssKiB(p)).filter((x) => x != null).map((k) => k / 1024);
    const count = ctx.quick ? 8 : 20;
    const bare = await bareRss(ctx, count, false);
    const bareIpc = await bareRss(ctx, count, true);
    const samples = { pm: appRss(fleets.pm), pm2: appRss(fleets.pm2) };
    return {
      rows: [
        row({
          scenario: '5 per-app overhead',
          metric: 'idle app VmRSS',
          unit: 'MiB',
          pm: side(samples.pm),
          pm2: side(samples.pm2),
          ref: { label: 'bare node app.js', samples: bare },
          refTarget: { op: '<=', value: 1.02, text: '≤ 1.02× bare node' },
          note: `one sample per app (${N} apps per tool; ${bare.length} bare)`,
        }),
        row({
          scenario: '5 per-app overhead',
          metric: 'idle app VmRSS vs node with an IPC channel',
          unit: 'MiB',
          pm: side(samples.pm),
          pm2: side(samples.pm2),
          ref: { label: 'bare node, stdio ipc', samples: bareIpc },
          note: 'same app samples as above; both managers give every app a Node IPC channel',
        }),
      ],
    };
  },
};
