'use strict';
// 13. Always on. A cluster app (`-i 2`, apps/http.js) and a fork app under HTTP load from
// apps/loadgen.js (half keep-alive, half Connection: close) on the cluster app, saved with `save`.
//
// a. SIGKILL of the daemon, then what a user runs next, clocked from the kill until every app is
//    supervised again (online in jlist, for pm-native with the same pids): pm-native, any
//    command (`jlist`: its new daemon adopts the running apps); pm2, `resurrect` (its apps die
//    with its daemon, and a new daemon starts empty). Failed requests over the kill and 500 ms
//    after it.
// b. `update` (pm2's and pm-native's), clocked from the command's spawn until it has returned
//    and every app is online again; failed requests the same way.

const path = require('path');
const { freePort, waitForHttp } = require('../http');
const { nowMs, sleep, killPid, isAlive, waitFor } = require('../proc');
const { APPS } = require('../fleet');
const { startLoad } = require('../load');
const { interleave, row, fromRun } = require('../measure');

const HTTP_APP = path.join(APPS, 'http.js');
const IDLE_APP = path.join(APPS, 'idle.js');
const SCENARIO = '13 always on';
const CONNECTIONS = 8;
const TIMEOUT_MS = 5000; // a request unanswered this long counts as failed
const APPS_N = 3;

/** Polls jlist until `APPS_N` apps are online (and `accept` agrees); the list. */
async function supervised(tool, home, accept = () => true, timeoutMs = 30000) {
  const got = await waitFor(
    () => {
      let list;
      try {
        list = tool.jlist(home);
      } catch {
        return null;
      }
      const online = list.filter((p) => p.pid > 0 && p.pm2_env && p.pm2_env.status === 'online');
      return online.length === APPS_N && accept(online) ? online : null;
    },
    { timeoutMs, intervalMs: 5 },
  );
  if (!got) throw new Error(`${tool.name}: apps not supervised again within ${timeoutMs} ms`);
  return got;
}

const pidsOf = (list) => list.map((p) => p.pid).sort((a, b) => a - b);

module.exports = {
  id: 'daemon-kill',
  title: 'Always on: daemon SIGKILL and update under load',
  fleets: [],

  async run(ctx) {
    const { pm, pm2 } = ctx;
    const t = {};
    for (const tool of [pm, pm2]) {
      const home = ctx.lab.newHome(tool, 'always');
      const port = await freePort();
      await tool.ensureDaemon(home);
      tool.run(home, ['start', HTTP_APP, '-i', '2', '--name', 'web'], { env: { PORT: String(port) } });
      tool.run(home, ['start', IDLE_APP, '--name', 'idle']);
      await tool.waitOnline(home, APPS_N);
      await waitForHttp(port, { deadlineMs: 15000 });
      tool.run(home, ['save']);
      t[tool.name] = { tool, home, port };
    }
    const out = { kill: { ms: {}, failed: {}, same: {} }, update: { ms: {}, failed: {}, same: {} } };
    for (const o of Object.values(out)) for (const m of Object.values(o)) Object.assign(m, { pm: [], pm2: [] });

    /** One round: load, `act` (returns ms until supervised again), more load; failed requests. */
    const round = (what, key, act) => async () => {
      const { tool, home, port } = t[key];
      await waitForHttp(port, { deadlineMs: 15000 });
      const before = pidsOf(await supervised(tool, home));
      const load = startLoad(ctx.lab, { port, mode: 'mixed', connections: CONNECTIONS, maxSeconds: 60, timeoutMs: TIMEOUT_MS });
      let report;
      let ms;
      let after;
      try {
        await load.ready;
        await sleep(300);
        ({ ms, after } = await act(tool, home));
        await sleep(500);
      } finally {
        report = await load.stop();
      }
      const f = report.final;
      out[what].ms[key].push(ms);
      out[what].failed[key].push(f.keepalive.errors + f.keepalive.non200 + f.close.errors + f.close.non200);
      out[what].same[key].push(pidsOf(after).filter((p) => before.includes(p)).length);
      return ms;
    };
    const kill = async (tool, home) => {
      const daemon = tool.daemonPid(home);
      const t0 = nowMs();
      killPid(daemon, 'SIGKILL');
      await waitFor(() => !isAlive(daemon), { timeoutMs: 5000, intervalMs: 1 });
      // pm2's next daemon starts empty: its user has to resurrect.
      if (tool.name === 'pm2') tool.run(home, ['resurrect']);
      const after = await supervised(tool, home);
      tool.daemonPid(home);
      return { ms: nowMs() - t0, after };
    };
    const update = async (tool, home) => {
      const t0 = nowMs();
      tool.run(home, ['update'], { timeoutMs: 60000 });
      const after = await supervised(tool, home);
      tool.daemonPid(home);
      return { ms: nowMs() - t0, after };
    };
    const reps = ctx.quick ? 3 : 5;
    try {
      const killRun = await interleave(reps, { pm: round('kill', 'pm', kill), pm2: round('kill', 'pm2', kill) });
      const updRun = await interleave(reps, { pm: round('update', 'pm', update), pm2: round('update', 'pm2', update) });
      const same = (o, k) => (o.same[k].length ? `${Math.min(...o.same[k])}–${Math.max(...o.same[k])}` : '—');
      const failedRow = (what, o, run, label) =>
        row({
          scenario: SCENARIO,
          metric: `${label}: failed requests`,
          unit: 'count',
          pm: fromRun({ samples: o.failed, errors: run.errors }, 'pm'),
          pm2: fromRun({ samples: o.failed, errors: run.errors }, 'pm2'),
          absTarget: { stat: 'max', op: '<=', value: 0, text: '0 failed' },
          note: `apps/loadgen.js with ${CONNECTIONS} connections (half keep-alive, half Connection: close) on the -i 2 app from 300 ms before to 500 ms after; failed = connection error, reset, no answer within ${TIMEOUT_MS / 1000} s, or non-200. Apps keeping their pid (of ${APPS_N}): pm-native ${same(o, 'pm')}, pm2 ${same(o, 'pm2')}`,
        });
      return {
        rows: [
          row({
            scenario: SCENARIO,
            metric: 'daemon SIGKILL → all apps supervised again',
            unit: 'ms',
            pm: fromRun({ samples: out.kill.ms, errors: killRun.errors }, 'pm'),
            pm2: fromRun({ samples: out.kill.ms, errors: killRun.errors }, 'pm2'),
            note: `${APPS_N} apps (-i 2 HTTP + 1 fork), clocked from the SIGKILL until jlist shows them all online again: pm-native, the next command (its daemon adopts the running apps, same pids); pm2, \`pm2 resurrect\` by hand (its apps die with its daemon, and its next daemon starts empty)`,
          }),
          failedRow('kill', out.kill, killRun, 'daemon SIGKILL'),
          row({
            scenario: SCENARIO,
            metric: 'update → all apps supervised by the new daemon',
            unit: 'ms',
            pm: fromRun({ samples: out.update.ms, errors: updRun.errors }, 'pm'),
            pm2: fromRun({ samples: out.update.ms, errors: updRun.errors }, 'pm2'),
            target: { op: '<=', value: 0.5, text: '≤ 0.5× pm2' },
            note: 'from spawning `update` until it has returned and jlist shows every app online: pm-native hands the running apps to the new daemon; pm2 saves, kills its daemon (and the apps) and resurrects',
          }),
          failedRow('update', out.update, updRun, 'update'),
        ],
      };
    } finally {
      for (const x of Object.values(t)) await ctx.lab.teardown(x.home);
    }
  },
};
