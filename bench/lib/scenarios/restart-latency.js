'use strict';
// 7. Restart latency. Crash: SIGKILL the app, clock until a *new* pid answers HTTP (the app
// answers with its pid; polled every 2 ms). Reference: respawn.js, a bare Node supervisor that
// respawns its child on exit. Then the restart command: spawn `<tool> restart web`, clock until a
// new pid answers (the CLI's own start-up included: that is what a user waits for). pm, pm2 and
// OxMgr run the same app in the same rounds. Each app is left up ≥ 1.2 s between kills, so no
// tool counts the restart as unstable (min_uptime is 1 s).

const path = require('path');
const { freePort, waitForHttp } = require('../http');
const { nowMs, sleep, killPid } = require('../proc');
const { APPS } = require('../fleet');
const { interleave, fromRun, row } = require('../measure');
const { oxFromRun, toolsOf } = require('../oxmgr');

const HTTP_APP = path.join(APPS, 'http.js');
const MIN_UP_MS = 1200;

/** Waits out the app's minimum uptime; returns the pid answering now. */
async function currentPid(t) {
  const wait = t.upAt + MIN_UP_MS - nowMs();
  if (wait > 0) await sleep(wait);
  const { body } = await waitForHttp(t.port, { deadlineMs: 5000 });
  return Number(body);
}

module.exports = {
  id: 'restart-latency',
  title: 'Restart latency: kill -9, and the restart command',
  fleets: [],
  oxmgr: true,

  async run(ctx) {
    const targets = {};
    const tools = toolsOf(ctx);
    const refPort = await freePort();
    const ref = ctx.lab.spawnChild(process.execPath, [path.join(APPS, 'respawn.js'), HTTP_APP], { env: { ...ctx.lab.baseEnv(), PORT: String(refPort) }, stdio: 'ignore' });
    targets.ref = { port: refPort };
    const setupErrors = {};
    try {
      for (const tool of tools) {
        try {
          const home = ctx.lab.newHome(tool, 'restart');
          const port = await freePort();
          targets[tool.name] = { port, home, tool };
          await tool.ensureDaemon(home);
          tool.startScript(home, HTTP_APP, { name: 'web', env: { PORT: String(port) } });
        } catch (e) {
          // OxMgr failing to come up is its own cells' failure, not the scenario's.
          if (tool !== ctx.oxmgr) throw e;
          setupErrors[tool.name] = e.message;
          ctx.log(`  ! ${tool.name}: ${e.message}`);
        }
      }
      const live = Object.keys(targets).filter((k) => !setupErrors[k]);
      for (const k of live) targets[k].upAt = nowMs() - (await waitForHttp(targets[k].port, { deadlineMs: 15000 })).ms;

      const crashOnce = (key) => async () => {
        const t = targets[key];
        const old = await currentPid(t);
        const t0 = nowMs();
        killPid(old, 'SIGKILL');
        const r = await waitForHttp(t.port, { since: t0, deadlineMs: 10000, accept: (b) => Number(b) !== old });
        t.upAt = nowMs();
        return r.ms;
      };
      const restartOnce = (key) => async () => {
        const t = targets[key];
        const old = await currentPid(t);
        const t0 = nowMs();
        const cmd = t.tool.spawn(t.home, ['restart', 'web']);
        const timer = setTimeout(() => killPid(cmd.pid, 'SIGKILL'), 30000);
        let r;
        try {
          r = await waitForHttp(t.port, { since: t0, deadlineMs: 10000, accept: (b) => Number(b) !== old });
        } finally {
          // The next round must not overlap this command.
          const exit = await cmd.done;
          clearTimeout(timer);
          t.upAt = nowMs();
          if (r && exit.code !== 0) throw new Error(`${t.tool.name} restart web exited ${exit.code ?? exit.signal}: ${(exit.stderr || '').trim().split('\n').pop()}`);
        }
        return r.ms;
      };
      const series = (fn, withRef) => Object.fromEntries([...tools.map((t) => t.name), ...(withRef ? ['ref'] : [])].filter((k) => live.includes(k)).map((k) => [k, fn(k)]));
      const reps = ctx.quick ? 5 : 10;
      const crash = await interleave(reps, series(crashOnce, true));
      const restart = await interleave(reps, series(restartOnce, false));
      for (const [k, msg] of Object.entries(setupErrors)) for (const run of [crash, restart]) run.errors[k] = [msg];
      return {
        rows: [
          row({
            scenario: '7 restart',
            metric: 'kill -9 → new pid answers HTTP',
            unit: 'ms',
            pm: fromRun(crash, 'pm'),
            pm2: fromRun(crash, 'pm2'),
            peer: oxFromRun(ctx, crash),
            ref: { label: 'bare respawn loop (Node)', samples: crash.samples.ref },
            target: { op: '<=', value: 0.5, text: '≤ 0.5× pm2' },
            peerTarget: { op: '<=', value: 1.0, text: '≤ 1.0× OxMgr' },
            refTarget: { op: '<=', value: 1.05, text: '≤ 1.05× bare respawn' },
            note: 'most of it is Node starting the app again: see the bare respawn loop',
          }),
          row({
            scenario: '7 restart',
            metric: '`restart web` → new pid answers HTTP',
            unit: 'ms',
            pm: fromRun(restart, 'pm'),
            pm2: fromRun(restart, 'pm2'),
            peer: oxFromRun(ctx, restart),
            note:
              'clocked from spawning the CLI command, so its start-up counts; the old app stops on SIGTERM at once' +
              (ctx.oxmgr ? '; OxMgr looks every 200 ms whether it has exited' : ''),
          }),
        ],
      };
    } finally {
      await ctx.lab.stopChild(ref);
      for (const t of Object.values(targets)) if (t.home) await ctx.lab.teardown(t.home);
    }
  },
};
