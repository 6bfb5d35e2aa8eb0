'use strict';
// 9. Cluster and library-mode scenarios. pm-native has neither cluster mode nor `fork()`/pools
// yet, so these rows say "not yet"; the pm2 side is not measured either (no point without
// something to compare). When a feature lands, replace its row with a measurement here.

const { clusterWorks } = require('../caps');
const { row, notYet, skipped } = require('../measure');

const PENDING = [
  ['cluster -i 2: HTTP req/s, keep-alive', 'cluster mode'],
  ['cluster -i 2: HTTP req/s, Connection: close', 'cluster mode'],
  ['cluster -i 2: failed requests over 5 rolling reloads', 'cluster mode, reload'],
  ['IPC round trip: fork() vs child_process.fork', 'require("pm-native").fork()'],
  ['worker pool vs piscina', 'pools'],
];

module.exports = {
  id: 'cluster',
  title: 'Cluster mode, IPC and pools',
  fleets: [],

  async run(ctx) {
    const cluster = await clusterWorks(ctx, ctx.pm);
    const rows = PENDING.map(([metric, feature]) =>
      row({
        scenario: '9 cluster/IPC',
        metric,
        unit: 'ms',
        pm: notYet(cluster && feature.startsWith('cluster') ? 'cluster mode probe passes: write this measurement' : `${feature} not implemented`),
        pm2: skipped('not measured until pm-native has the feature'),
      }),
    );
    return { rows };
  },
};
