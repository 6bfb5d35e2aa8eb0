'use strict';
// 7. Restart latency: SIGKILL the app, clock until a *new* pid answers HTTP (the app answers
// with its pid; polled every 2 ms). Reference: respawn.js, a bare Node supervisor that respawns
// its child on exit. Each app is left up ≥ 1.2 s between kills, so no tool counts the restart
// as unstable (min_uptime is 1 s).

const path = require('path');
const { freePort, waitForHttp } = require('../http');
const { nowMs, sleep, killPid } = require('../proc');
const { APPS } = require('../fleet');
const { interleave, fromRun, row } = require('../measure');

const HTTP_APP = path.join(APPS, 'http.js');
const MIN_UP_MS = 1200;

module.exports = {
  id: 'restart-latency',
  title: 'Restart latency after kill -9',
  fleets: [],

  async run(ctx) {
    const { pm, pm2 } = ctx;
    const targets = {};
    for (const tool of [pm, pm2]) {
      const home = ctx.lab.newHome(tool, 'restart');
      const port = await freePort();
      await tool.ensureDaemon(home);
      tool.run(home, ['start', HTTP_APP, '--name', 'web'], { env: { PORT: String(port) } });
      targets[tool.name] = { port, home };
    }
    const refPort = await freePort();
    const ref = ctx.lab.spawnChild(process.execPath, [path.join(APPS, 'respawn.js'), HTTP_APP], { env: { ...ctx.lab.baseEnv(), PORT: String(refPort) }, stdio: 'ignore' });
    targets.ref = { port: refPort };
    try {
      for (const t of Object.values(targets)) t.upAt = nowMs() - (await waitForHttp(t.port, { deadlineMs: 15000 })).ms;
      const once = (key) => async () => {
        const t = targets[key];
        const wait = t.upAt + MIN_UP_MS - nowMs();
        if (wait > 0) await sleep(wait);
        const { body } = await waitForHttp(t.port, { deadlineMs: 5000 });
        const old = Number(body);
        const t0 = nowMs();
        killPid(old, 'SIGKILL');
        const r = await waitForHttp(t.port, { since: t0, deadlineMs: 10000, accept: (b) => Number(b) !== old });
        t.upAt = nowMs();
        return r.ms;
      };
      const run = await interleave(ctx.quick ? 5 : 10, { pm: once('pm'), pm2: once('pm2'), ref: once('ref') });
      return {
        rows: [
          row({
            scenario: '7 restart',
            metric: 'kill -9 → new pid answers HTTP',
            unit: 'ms',
            pm: fromRun(run, 'pm'),
            pm2: fromRun(run, 'pm2'),
            ref: { label: 'bare respawn loop (Node)', samples: run.samples.ref },
            target: { op: '<=', value: 0.5, text: '≤ 0.5× pm2' },
            refTarget: { op: '<=', value: 1.3, text: '≤ 1.3× bare respawn' },
            note: 'most of it is Node starting the app again: see the bare respawn loop',
          }),
        ],
      };
    } finally {
      await ctx.lab.stopChild(ref);
      for (const t of Object.values(targets)) if (t.home) await ctx.lab.teardown(t.home);
    }
  },
};
