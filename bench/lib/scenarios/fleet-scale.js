'use strict';
// 11. Fleets of 100 and 1,000 small apps (`sleep`, a binary: 1,000 of them fit in memory) on one
// daemon: how the costs grow with the fleet. Per size and tool, in a fresh home:
// - start: `start <ecosystem>` with every app, clocked until every app runs (each a child of the
//   daemon that has exec'd `sleep`, read from /proc, so the clock does not ask the manager);
//   reference: a shell loop spawning the same processes (`sleep … &` N times);
// - daemon RSS once the apps run (settled 2 s), and its CPU over an idle window (10 s; quick 3 s);
// - at 1,000 apps (pm-native and pm2): one more app in the ecosystem, a Node script with
//   max_memory_restart 64M that grows to ~140 MiB when signalled; clocked from the moment its
//   VmRSS is seen above the limit until its pid is gone (the manager's memory check acted);
// - `jlist` and `ls` wall time (fresh CLI process, output to a pipe), interleaved;
// - `stop all` and `delete all`, each clocked until the command returns.
// The 1,000-app rows state the cost of each extra app between the two sizes.
// OxMgr does the same with its own commands: `apply oxfile.toml` (the same apps, restart_policy
// "never"), `list --json` for jlist, `list` for ls, `stop all`, `delete all`; at 1,000 apps
// without the last two (see OXMGR_STOP_MAX).

const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const { nowMs, sleep, waitFor, rssKiB, isAlive, killAll, killPid, cpuMs } = require('../proc');
const { APPS } = require('../fleet');
const { interleave, side, skipped, row } = require('../measure');
const { fmtValue, median } = require('../stats');
const { oxSide, toolsOf } = require('../oxmgr');

const SIZES = [100, 1000];
const SLEEP = '/bin/sleep';
// OxMgr stops its apps one at a time and polls each every 200 ms until it is gone: `stop all`
// takes ~0.2 s per app (~20 s for 100, over 3 minutes for 1,000). Above this size the bench does
// not clock its stop and delete and ends the apps itself, by pid, before `daemon stop`.
const OXMGR_STOP_MAX = 100;

/** Direct children of `pid` that have exec'd `sleep`. */
function sleepingChildren(pid) {
  const out = [];
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    let kids;
    try {
      kids = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      continue;
    }
    for (const k of kids) {
      try {
        if (fs.readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'sleep') out.push(k);
      } catch {}
    }
  }
  return out;
}

async function untilRunning(parent, n, since, what) {
  const ok = await waitFor(() => sleepingChildren(parent).length >= n, { timeoutMs: 300000, intervalMs: 5 });
  if (!ok) throw new Error(`${what}: only ${sleepingChildren(parent).length}/${n} apps running after 300 s`);
  return nowMs() - since;
}

const MEM_LIMIT_MIB = 64;

function writeEcosystem(dir, n, withMemApp) {
  const apps = Array.from({ length: n }, (_, i) => ({ name: `s${i}`, script: SLEEP, args: '100000', interpreter: 'none', autorestart: false }));
  if (withMemApp) apps.push({ name: 'mem', script: path.join(APPS, 'mem-grow.js'), max_memory_restart: `${MEM_LIMIT_MIB}M` });
  const file = path.join(dir, 'fleet.json');
  fs.writeFileSync(file, JSON.stringify({ apps }));
  return file;
}

/** The same fleet as an oxfile, the format OxMgr's own benchmark starts its fleets from. */
function writeOxfile(dir, n) {
  const apps = Array.from({ length: n }, (_, i) => `[[apps]]\nname = "s${i}"\ncommand = "${SLEEP} 100000"\nrestart_policy = "never"\nstop_timeout_secs = 1\n`);
  const file = path.join(dir, 'oxfile.toml');
  fs.writeFileSync(file, `version = 1\n\n${apps.join('\n')}`);
  return file;
}

/** `start <ecosystem>`, or OxMgr's `apply <oxfile>`. */
function startFleetArgs(tool, dir, n) {
  return tool.name === 'oxmgr' ? ['apply', writeOxfile(dir, n)] : ['start', writeEcosystem(dir, n, memApp(tool, n))];
}

const memApp = (tool, n) => n >= 1000 && tool.name !== 'oxmgr';

/** Signals the memory app to grow; ms from its VmRSS seen above the limit to its pid gone. */
async function memoryRestart(tool, home) {
  const app = tool.jlist(home).find((p) => p.name === 'mem');
  const pid = app && app.pid;
  if (!pid) throw new Error(`${tool.name}: the memory app is not running`);
  killPid(pid, 'SIGUSR2');
  let crossed = null;
  const over = await waitFor(() => (rssKiB(pid) || 0) / 1024 > MEM_LIMIT_MIB, { timeoutMs: 10000, intervalMs: 2 });
  crossed = nowMs();
  if (!over) throw new Error(`${tool.name}: the memory app did not grow past ${MEM_LIMIT_MIB} MiB`);
  // pm2 checks memory every 30 s (its worker_interval).
  if (!(await waitFor(() => !isAlive(pid), { timeoutMs: 45000, intervalMs: 5 }))) throw new Error(`${tool.name}: not restarted 45 s after crossing max_memory_restart`);
  return nowMs() - crossed;
}

/**
 * What creating files costs on the disk the homes are on (each pm-native app makes four: its
 * out and err logs, its pid file, its notify socket): 1,000 empty files in a fresh directory.
 */
function createCost(ctx) {
  const dir = ctx.lab.dir('creates');
  const t0 = nowMs();
  for (let i = 0; i < 1000; i++) fs.closeSync(fs.openSync(path.join(dir, `f${i}`), 'a'));
  return nowMs() - t0;
}

/** The shell loop: N sleeps from one `sh`, clocked until all have exec'd; then ended. */
async function shellLoop(ctx, n) {
  const t0 = nowMs();
  const sh = cp.spawn('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do ${SLEEP} 100000 & i=$((i+1)); done; wait`], {
    env: ctx.lab.baseEnv(),
    stdio: 'ignore',
  });
  try {
    return await untilRunning(sh.pid, n, t0, 'shell loop');
  } finally {
    killAll(sleepingChildren(sh.pid));
    sh.kill('SIGKILL');
  }
}

/** One tool at one size: every figure of this scenario, in one fresh home. */
async function oneFleet(ctx, tool, n, out) {
  const home = ctx.lab.newHome(tool, `fleet${n}`);
  try {
    const daemon = await tool.ensureDaemon(home);
    const args = startFleetArgs(tool, ctx.lab.dir('eco'), n);
    const t0 = nowMs();
    tool.run(home, args, { timeoutMs: 300000 });
    out.start.push(await untilRunning(daemon, n, t0, tool.name));
    await sleep(2000);
    out.rss.push(rssKiB(daemon) / 1024);
    const windowMs = ctx.quick ? 3000 : 10000;
    const c0 = cpuMs(daemon);
    await sleep(windowMs);
    const c1 = cpuMs(daemon);
    if (c0 != null && c1 != null) out.idle.push(((c1 - c0) / windowMs) * 100);
    if (memApp(tool, n)) out.mem.push(await memoryRestart(tool, home));
    const samples = n >= 1000 ? 5 : 10;
    for (let i = 0; i < 2; i++) tool.run(home, tool.jlistArgs, { timeoutMs: 60000 });
    const run = await interleave(samples, {
      jlist: () => tool.run(home, tool.jlistArgs, { timeoutMs: 60000 }).ms,
      ls: () => tool.run(home, tool.lsArgs, { timeoutMs: 60000 }).ms,
    });
    out.jlist.push(...run.samples.jlist);
    out.ls.push(...run.samples.ls);
    const pids = sleepingChildren(daemon);
    if (tool.name === 'oxmgr' && n > OXMGR_STOP_MAX) killAll(pids);
    else {
      out.stop.push(tool.run(home, ['stop', 'all'], { timeoutMs: 120000 }).ms);
      out.delete.push(tool.run(home, ['delete', 'all'], { timeoutMs: 120000 }).ms);
    }
    const gone = await waitFor(() => pids.every((p) => !isAlive(p)), { timeoutMs: 10000 });
    if (!gone) ctx.log(`  ! ${tool.name}: ${killAll(pids).length} app(s) alive 10 s after delete all; SIGKILLed`);
  } finally {
    await ctx.lab.teardown(home);
  }
}

module.exports = {
  id: 'fleet-scale',
  title: 'Fleets of 100 and 1,000 apps',
  fleets: [],
  oxmgr: true,

  async run(ctx) {
    const tools = toolsOf(ctx);
    const reps = ctx.quick ? 1 : 2;
    const fig = () => ({ start: [], rss: [], idle: [], mem: [], jlist: [], ls: [], stop: [], delete: [] });
    const creates = createCost(ctx);
    const res = {};
    for (const n of SIZES) {
      res[n] = { pm: fig(), pm2: fig(), oxmgr: fig(), shell: [] };
      const errors = { pm: [], pm2: [], oxmgr: [] };
      for (let rep = 0; rep < reps; rep++) {
        const order = tools.map((_, i) => tools[(i + rep) % tools.length]);
        for (const tool of order) {
          await oneFleet(ctx, tool, n, res[n][tool.name]).catch((e) => errors[tool.name].push(e.message));
        }
        res[n].shell.push(await shellLoop(ctx, n));
      }
      res[n].errors = errors;
    }
    const rows = [];
    const perApp = (tool, key) => {
      const a = median(res[SIZES[0]][tool][key]);
      const b = median(res[SIZES[1]][tool][key]);
      return ((b - a) / (SIZES[1] - SIZES[0])).toFixed(3);
    };
    const targets = {
      jlist: { 100: 8, 1000: 60 },
      ls: { 100: 5, 1000: 30 },
      rss: { 100: 8, 1000: 30 },
    };
    for (const n of SIZES) {
      const r = res[n];
      const s = (tool, key) => side(r[tool][key], r.errors[tool]);
      const ox = (key) => oxSide(ctx, r.oxmgr[key], r.errors.oxmgr);
      const oxStopped = (key) => (ctx.oxmgr && n > OXMGR_STOP_MAX ? { label: 'OxMgr', ...skipped(`not clocked above ${OXMGR_STOP_MAX} apps`) } : ox(key));
      const oxStopNote = () => {
        if (!ctx.oxmgr || n <= OXMGR_STOP_MAX) return undefined;
        const at = res[SIZES[0]].oxmgr.stop;
        const took = at.length ? ` (${fmtValue(median(at), 'ms')} for ${SIZES[0]})` : '';
        return `OxMgr: not clocked: it stops apps one at a time, ~0.2 s each${took}; the bench ends its ${n} apps by pid`;
      };
      const scen = `11 fleet of ${n}`;
      const oxCost = (key, unit) => (ctx.oxmgr && res[SIZES[0]].oxmgr[key].length && r.oxmgr[key].length ? `, OxMgr ${perApp('oxmgr', key)} ${unit}` : '');
      const cost = (key, unit) => (n === SIZES[1] ? `; per extra app: pm ${perApp('pm', key)} ${unit}, pm2 ${perApp('pm2', key)} ${unit}${oxCost(key, unit)}` : '');
      rows.push(
        row({
          scenario: scen,
          metric: `start ${n} from one ecosystem, until all run`,
          unit: 'ms',
          pm: s('pm', 'start'),
          pm2: s('pm2', 'start'),
          peer: ox('start'),
          ref: { label: 'shell loop', samples: r.shell },
          refTarget: n === 1000 ? { op: '<=', value: 1.1, text: '≤ 1.1× shell loop' } : undefined,
          note: [
            ctx.oxmgr ? 'OxMgr: `apply oxfile.toml` with the same apps' : '',
            n === 1000 ? `each pm-native app makes 4 files (out and err logs, pid file, notify socket); 1,000 empty files take ${fmtValue(creates, 'ms')} to create on this disk, the shell loop makes none` : '',
          ]
            .filter(Boolean)
            .join('; ') || undefined,
        }),
        row({
          scenario: scen,
          metric: `daemon CPU while the ${n} apps idle (% of one core)`,
          unit: '%',
          pm: s('pm', 'idle'),
          pm2: s('pm2', 'idle'),
          peer: ox('idle'),
          absTarget: n === 1000 ? { stat: 'median', op: '<=', value: 0.5, text: '≤ 0.5%' } : undefined,
          note: `utime+stime over ${ctx.quick ? 3 : 10} s, 10 ms ticks`,
        }),
        row({
          scenario: scen,
          metric: `daemon RSS, ${n} apps`,
          unit: 'MiB',
          pm: s('pm', 'rss'),
          pm2: s('pm2', 'rss'),
          peer: ox('rss'),
          absTarget: { stat: 'median', op: '<=', value: targets.rss[n], text: `≤ ${targets.rss[n]} MiB` },
          note: `VmRSS${cost('rss', 'MiB')}`,
        }),
        ...(n === 1000
          ? [
              row({
                scenario: scen,
                metric: `max_memory_restart with ${n} apps running: over the limit → restarted`,
                unit: 'ms',
                pm: s('pm', 'mem'),
                pm2: s('pm2', 'mem'),
                peer: ctx.oxmgr ? { label: 'OxMgr', ...skipped('not in its fleet') } : undefined,
                absTarget: { stat: 'max', op: '<=', value: 1000, text: '≤ 1 s' },
                note: `a Node app with max_memory_restart ${MEM_LIMIT_MIB}M grown to ~140 MiB; clocked from its VmRSS seen above the limit to its pid gone; pm2 checks every 30 s`,
              }),
            ]
          : []),
        row({
          scenario: scen,
          metric: `jlist, ${n} apps`,
          unit: 'ms',
          pm: s('pm', 'jlist'),
          pm2: s('pm2', 'jlist'),
          peer: ox('jlist'),
          absTarget: { stat: 'median', op: '<=', value: targets.jlist[n], text: `≤ ${targets.jlist[n]} ms` },
          note: `fresh CLI, output to a pipe${ctx.oxmgr ? '; OxMgr: `list --json`' : ''}${cost('jlist', 'ms')}`,
        }),
        row({
          scenario: scen,
          metric: `ls, ${n} apps`,
          unit: 'ms',
          pm: s('pm', 'ls'),
          pm2: s('pm2', 'ls'),
          peer: ox('ls'),
          absTarget: { stat: 'median', op: '<=', value: targets.ls[n], text: `≤ ${targets.ls[n]} ms` },
          note: [ctx.oxmgr ? 'OxMgr: `list`' : '', cost('ls', 'ms').replace(/^; /, '')].filter(Boolean).join('; ') || undefined,
        }),
        row({
          scenario: scen,
          metric: `stop all, ${n} apps`,
          unit: 'ms',
          pm: s('pm', 'stop'),
          pm2: s('pm2', 'stop'),
          peer: oxStopped('stop'),
          absTarget: n === 1000 ? { stat: 'median', op: '<=', value: 2000, text: '< 2 s' } : undefined,
          note: oxStopNote(),
        }),
        row({
          scenario: scen,
          metric: `delete all, ${n} apps`,
          unit: 'ms',
          pm: s('pm', 'delete'),
          pm2: s('pm2', 'delete'),
          peer: oxStopped('delete'),
          absTarget: n === 1000 ? { stat: 'median', op: '<=', value: 2000, text: '< 2 s' } : undefined,
        }),
      );
    }
    return { rows };
  },
};
