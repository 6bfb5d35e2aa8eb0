'use strict';
// 2. Cold start: no daemon, a fresh home → `start http.js` → the app answers HTTP on 127.0.0.1.
// The clock starts before the CLI is spawned and stops at the first 200 answer (polled every
// 2 ms while the CLI runs); the daemon's start-up is inside it. Reference: `node http.js`.
// Variant with `-i 2` (cluster mode): reference `node cluster-ref.js 2` (Node's own cluster).

const path = require('path');
const { freePort, waitForHttp } = require('../http');
const { nowMs } = require('../proc');
const { APPS } = require('../fleet');
const { clusterWorks } = require('../caps');
const { interleave, fromRun, row, notYet } = require('../measure');

const HTTP_APP = path.join(APPS, 'http.js');

/** Fresh home, `start` (async), time to the first HTTP answer, then tear the home down. */
async function toolColdStart(ctx, tool, extraArgs) {
  const home = ctx.lab.newHome(tool, 'cold');
  try {
    const port = await freePort();
    const t0 = nowMs();
    const cli = tool.spawn(home, ['start', HTTP_APP, '--name', 'web', ...extraArgs], { env: { PORT: String(port) } });
    const { ms } = await waitForHttp(port, { since: t0, deadlineMs: 20000 });
    const done = await cli.done;
    if (done.code !== 0) throw new Error(`${tool.name} start exited ${done.code}: ${done.stderr.trim().slice(-200)}`);
    tool.daemonPid(home);
    return ms;
  } finally {
    await ctx.lab.teardown(home);
  }
}

async function refColdStart(ctx, args) {
  const port = await freePort();
  const t0 = nowMs();
  const h = ctx.lab.spawnChild(process.execPath, args, { env: { ...ctx.lab.baseEnv(), PORT: String(port) }, stdio: 'ignore' });
  try {
    return (await waitForHttp(port, { since: t0, deadlineMs: 20000 })).ms;
  } finally {
    await ctx.lab.stopChild(h);
  }
}

module.exports = {
  id: 'cold-start',
  title: 'Cold start: no daemon → app answers HTTP',
  fleets: [],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const pmCluster = await clusterWorks(ctx, pm);
    const one = await interleave(reps, {
      pm: () => toolColdStart(ctx, pm, []),
      pm2: () => toolColdStart(ctx, pm2, []),
      node: () => refColdStart(ctx, [HTTP_APP]),
    });
    const rows = [
      row({
        scenario: '2 cold start',
        metric: 'start app.js (1 instance) → HTTP 200',
        unit: 'ms',
        pm: fromRun(one, 'pm'),
        pm2: fromRun(one, 'pm2'),
        ref: { label: 'node app.js', samples: one.samples.node },
        target: { op: '<=', value: 1 / 3, text: '≥ 3× faster' },
        note: pmCluster ? 'fork mode for both' : 'fork mode for both: pm-native has no cluster mode yet',
      }),
    ];

    const series = {
      pm2: () => toolColdStart(ctx, pm2, ['-i', '2']),
      node: () => refColdStart(ctx, [path.join(APPS, 'cluster-ref.js'), '2']),
    };
    if (pmCluster) series.pm = () => toolColdStart(ctx, pm, ['-i', '2']);
    const two = await interleave(reps, series);
    rows.push(
      row({
        scenario: '2 cold start',
        metric: 'start app.js -i 2 → first HTTP 200',
        unit: 'ms',
        pm: pmCluster ? fromRun(two, 'pm') : notYet('cluster mode not implemented'),
        pm2: fromRun(two, 'pm2'),
        ref: { label: 'node cluster, 2 workers', samples: two.samples.node },
        target: { op: '<=', value: 1 / 3, text: '≥ 3× faster' },
      }),
    );
    return { rows };
  },
};
