'use strict';
// 9. Cluster mode.
//
// a. HTTP req/s of apps/http.js (hello world) with 2 workers: pm-native `start -i 2`, pm2
//    `start -i 2`, Node's own `cluster` with 2 workers (cluster-ref.js) and one bare `node
//    http.js`; keep-alive and `Connection: close`, closed loop, fixed windows, the four servers
//    taking turns. Load from `wrk` if it is on PATH, otherwise apps/loadgen.js (lib/load.js);
//    either way a separate process on the same 2 cores.
// b. Failed requests over 5 rolling reloads (`-i 2`) under load from apps/loadgen.js, half its
//    connections keep-alive and half `Connection: close`, counted per kind (a connection error,
//    a timeout or a non-200 answer is a failed request). Reference: Node's cluster doing the
//    textbook rolling restart (cluster-ref.js on SIGUSR2: fork, 'listening', disconnect old).
//    Then the same with one fork-mode instance (`start http.js`, no -i): pm2 restarts it.
// c. Reload wall time with 4 workers: from spawning `reload` until the command has returned and
//    each of the 4 new workers (pids from jlist) has answered a request; HTTP probes on fresh
//    connections run throughout the reload. Same reference as b, with 4 workers.

const fs = require('fs');
const path = require('path');
const { freePort, getOnce, waitForHttp } = require('../http');
const { nowMs, sleep, killPid, procStat, waitFor } = require('../proc');
const { APPS } = require('../fleet');
const { clusterWorks } = require('../caps');
const { generator, measureRps, startLoad } = require('../load');
const { interleave, row, side, notYet } = require('../measure');
const { summarize, sig3 } = require('../stats');

const HTTP_APP = path.join(APPS, 'http.js');
const CLUSTER_REF = path.join(APPS, 'cluster-ref.js');
const SCENARIO = '9 cluster';
const CONNECTIONS = 32; // req/s runs
const RELOAD_CONNECTIONS = 16; // 8 keep-alive + 8 close during the reloads
const RELOADS = 5;
const RELOAD_TIMEOUT_MS = 2000; // a request unanswered this long during the reloads counts as failed
const SLOW_RELOAD_MS = 2500; // a reload this slow is logged: it smells of a fallback timer (listen_timeout, kill_timeout)

/** Deadline for a CLI command spawned asynchronously: SIGKILL after `ms`. */
async function cliDone(handle, ms) {
  const t = setTimeout(() => killPid(handle.pid, 'SIGKILL'), ms);
  const r = await handle.done;
  clearTimeout(t);
  return r;
}

/** Pids of the app's instances, from jlist, online only. */
function toolPids(tool, home) {
  return tool
    .jlist(home)
    .filter((p) => p.pid > 0 && p.pm2_env && p.pm2_env.status === 'online')
    .map((p) => p.pid);
}

/** Live children of `pid` (the reference primary's workers), by a /proc scan on ppid. */
function childPids(pid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st && st.ppid === pid && st.state !== 'Z' && st.state !== 'X') out.push(Number(e));
  }
  return out;
}

/** The reference: cluster-ref.js with n workers on `port`, answering. */
async function startRef(ctx, n, port) {
  const h = ctx.lab.spawnChild(process.execPath, [CLUSTER_REF, String(n)], { env: { ...ctx.lab.baseEnv(), PORT: String(port) } });
  let out = '';
  const lines = []; // resolvers waiting for the next "reloaded" line
  h.child.stdout.on('data', (c) => {
    out += c;
    let nl;
    while ((nl = out.indexOf('\n')) !== -1) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.startsWith('reloaded')) for (const r of lines.splice(0)) r(line);
    }
  });
  h.nextReload = () => new Promise((resolve) => lines.push(resolve));
  await waitForHttp(port, { deadlineMs: 10000 });
  if (!(await waitFor(() => childPids(h.pid).length >= n, { timeoutMs: 10000 }))) throw new Error(`cluster-ref: ${n} workers not up`);
  return h;
}

/** Rolling restart of the reference; resolves when it reports done (bounded). */
async function refReload(h, timeoutMs = 30000) {
  const next = h.nextReload();
  if (!killPid(h.pid, 'SIGUSR2')) throw new Error('cluster-ref is gone');
  const r = await Promise.race([next, sleep(timeoutMs).then(() => null)]);
  if (!r) throw new Error(`cluster-ref: rolling restart not done within ${timeoutMs} ms`);
}

function fmtMedMax(xs) {
  const s = summarize(xs);
  return s ? `${Math.round(s.median)} ms, ${Math.round(s.max)} ms` : '—';
}

function fmtMed(xs) {
  const s = summarize(xs);
  return s ? sig3(s.median) : '—';
}

// ---------------------------------------------------------------------------------------------
// The servers. One set serves a and b: pm-native and pm2 with `-i 2` (each in its own home),
// cluster-ref.js with 2 workers, one bare node. For c the tools' homes stay and the app is
// started again with `-i 4`; the reference is started again with 4 workers.

/** Everything the scenario runs; `stopAll()` ends it (also on failure). */
class Servers {
  constructor(ctx) {
    this.ctx = ctx;
    this.t = {}; // key -> { port, tool?, home?, ref? (cluster-ref handle), child? (bare node handle) }
  }

  async startTool(key, tool, n) {
    const { lab } = this.ctx;
    const port = await freePort();
    let home = this.t[key] && this.t[key].home;
    if (home) {
      tool.run(home, ['delete', 'web'], { timeoutMs: 30000 });
    } else {
      home = lab.newHome(tool, 'cluster');
      this.t[key] = { home, tool };
      await tool.ensureDaemon(home);
    }
    // n = 'fork': one fork-mode instance (no -i).
    const args = ['start', HTTP_APP, '--name', 'web', ...(n === 'fork' ? [] : ['-i', String(n)])];
    tool.run(home, args, { env: { PORT: String(port) }, timeoutMs: 30000 });
    await tool.waitOnline(home, n === 'fork' ? 1 : n, 30000);
    await waitForHttp(port, { deadlineMs: 10000 });
    this.t[key].port = port;
  }

  async startRef(key, n) {
    if (this.t[key]) await this.stop(key);
    const port = await freePort();
    this.t[key] = { port, ref: await startRef(this.ctx, n, port) };
  }

  async startNode(key) {
    const { lab } = this.ctx;
    const port = await freePort();
    const child = lab.spawnChild(process.execPath, [HTTP_APP], { env: { ...lab.baseEnv(), PORT: String(port) }, stdio: 'ignore' });
    this.t[key] = { port, child };
    await waitForHttp(port, { deadlineMs: 10000 });
  }

  /** Online worker pids: jlist for the tools, the primary's children for the reference. */
  pids(key) {
    const t = this.t[key];
    return t.tool ? toolPids(t.tool, t.home) : childPids(t.ref.pid);
  }

  /** The same without blocking the event loop (spawnSync would delay the probes' clocks). */
  async pidsAsync(key) {
    const t = this.t[key];
    if (!t.tool) return childPids(t.ref.pid);
    const r = await cliDone(t.tool.spawn(t.home, ['jlist']), 30000);
    if (r.code !== 0) throw new Error(`${t.tool.name} jlist exited ${r.code ?? r.signal}`);
    const text = r.stdout.trim();
    return JSON.parse(text.slice(text.indexOf('[')))
      .filter((p) => p.pid > 0 && p.pm2_env && p.pm2_env.status === 'online')
      .map((p) => p.pid);
  }

  /** One rolling reload; resolves when the command (or the reference's restart) is done. */
  async reload(key) {
    const t = this.t[key];
    if (!t.tool) return refReload(t.ref);
    const r = await cliDone(t.tool.spawn(t.home, ['reload', 'web']), 60000);
    if (r.code !== 0) throw new Error(`${t.tool.name} reload exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-200)}`);
  }

  async stop(key) {
    const t = this.t[key];
    if (!t) return;
    delete this.t[key];
    if (t.home) await this.ctx.lab.teardown(t.home);
    if (t.ref) await this.ctx.lab.stopChild(t.ref);
    if (t.child) await this.ctx.lab.stopChild(t.child);
  }

  async stopAll() {
    for (const key of Object.keys(this.t)) await this.stop(key);
  }
}

// ---------------------------------------------------------------------------------------------
// a. req/s

async function throughput(ctx, sv, keys) {
  const { lab } = ctx;
  const seconds = ctx.quick ? 1 : 3;
  const gen = generator();
  // Warm-up (JIT, both connection paths); also a check that every server answers 200 under load.
  for (const key of keys) {
    const w = await measureRps(lab, { port: sv.t[key].port, mode: 'mixed', connections: 8, seconds: ctx.quick ? 0.3 : 1 }).catch((e) => ({ errors: 1, why: e.message }));
    if (w.errors || w.non200) ctx.log(`  ! warm-up of ${key}: ${w.errors} error(s), ${w.non200} non-200 ${w.why || JSON.stringify(w.errorKinds)}`);
  }
  const rps = { keepalive: {}, close: {} };
  const errs = {};
  const series = {};
  for (const key of keys) {
    rps.keepalive[key] = [];
    rps.close[key] = [];
    errs[key] = 0;
    series[key] = async (rep) => {
      // Alternate which kind goes first, too.
      for (const mode of rep % 2 ? ['close', 'keepalive'] : ['keepalive', 'close']) {
        const r = await measureRps(lab, { port: sv.t[key].port, mode, connections: CONNECTIONS, seconds });
        rps[mode][key].push(r.rps);
        errs[key] += r.errors + r.non200;
      }
    };
  }
  const run = await interleave(ctx.reps, series);
  return { rps, errs, run, seconds, gen };
}

// ---------------------------------------------------------------------------------------------
// b. failed requests over 5 rolling reloads under load

async function reloadsUnderLoad(ctx, sv, keys) {
  const reps = ctx.quick ? 1 : 2;
  const out = { ka: {}, close: {}, served: {}, cmdMs: {}, kinds: {} };
  const series = {};
  for (const key of keys) {
    for (const o of Object.values(out)) o[key] = [];
    out.kinds[key] = {};
    series[key] = async () => {
      const before = sv.pids(key);
      const load = startLoad(ctx.lab, { port: sv.t[key].port, mode: 'mixed', connections: RELOAD_CONNECTIONS, maxSeconds: 120, timeoutMs: RELOAD_TIMEOUT_MS });
      let report = null;
      try {
        await load.ready;
        await sleep(200);
        for (let i = 0; i < RELOADS; i++) {
          const t0 = nowMs();
          await sv.reload(key);
          const ms = nowMs() - t0;
          out.cmdMs[key].push(ms);
          if (ms > SLOW_RELOAD_MS) ctx.log(`  ! ${key}: reload ${i + 1} under load took ${Math.round(ms)} ms`);
          await sleep(150);
        }
        await sleep(200);
      } finally {
        report = await load.stop();
      }
      const after = sv.pids(key);
      if (after.length !== before.length || after.some((p) => before.includes(p))) throw new Error(`${key}: after ${RELOADS} reloads the workers are ${after.join(',')} (before: ${before.join(',')})`);
      const f = report.final;
      const failed = (c) => c.errors + c.non200;
      out.ka[key].push(failed(f.keepalive));
      out.close[key].push(failed(f.close));
      out.served[key].push(f.keepalive.ok + f.close.ok);
      for (const c of [f.keepalive, f.close]) for (const [k, n] of Object.entries(c.errorKinds)) out.kinds[key][k] = (out.kinds[key][k] || 0) + n;
    };
  }
  const run = await interleave(reps, series);
  return { ...out, run, reps };
}

// ---------------------------------------------------------------------------------------------
// c. reload wall time, 4 workers

/** Fresh-connection GETs in `loops` parallel loops until stop(); records each pid's first answer. */
function probe(port, loops = 2) {
  const seen = new Map();
  let stopped = false;
  const end = nowMs() + 60000;
  const loop = async () => {
    for (let i = 0; i < 20000 && !stopped && nowMs() < end; i++) {
      const r = await getOnce(port, 1000);
      const t = nowMs();
      if (r && r.status === 200) {
        const pid = Number(r.body);
        if (!seen.has(pid)) seen.set(pid, t);
      }
      await sleep(3);
    }
  };
  const running = Promise.all(Array.from({ length: loops }, loop));
  return {
    seen,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

async function reloadWallTime(ctx, sv, keys, n) {
  const series = {};
  const cmdMs = {}; // until the command returned (or the reference reported done)
  for (const key of keys) {
    cmdMs[key] = [];
    series[key] = async () => {
      const before = sv.pids(key);
      if (before.length !== n) throw new Error(`${key}: ${before.length} workers before the reload`);
      const p = probe(sv.t[key].port);
      try {
        const t0 = nowMs();
        await sv.reload(key);
        const t1 = nowMs();
        cmdMs[key].push(t1 - t0);
        // The new workers (not clocked: a pm2 jlist alone takes ~0.2 s; the probes carry on and
        // keep their own clock, so jlist runs asynchronously).
        let fresh = null;
        await waitFor(
          async () => {
            fresh = await sv.pidsAsync(key);
            return fresh.length === n && fresh.every((x) => !before.includes(x));
          },
          { timeoutMs: 10000, intervalMs: 50 },
        );
        if (!fresh || fresh.length !== n || fresh.some((x) => before.includes(x))) throw new Error(`${key}: workers after reload ${fresh} (before ${before})`);
        if (!(await waitFor(() => fresh.every((x) => p.seen.has(x)), { timeoutMs: 10000, intervalMs: 2 }))) {
          throw new Error(`${key}: new workers ${fresh.filter((x) => !p.seen.has(x)).join(',')} never answered within 10 s`);
        }
        return Math.max(t1, ...fresh.map((x) => p.seen.get(x))) - t0;
      } finally {
        await p.stop();
        await sleep(100);
      }
    };
  }
  const run = await interleave(ctx.reps, series);
  return { samples: run.samples, run, cmdMs };
}

// ---------------------------------------------------------------------------------------------

module.exports = {
  id: 'cluster',
  title: 'Cluster mode and zero-downtime reloads',
  fleets: [],

  async run(ctx) {
    const pmOk = await clusterWorks(ctx, ctx.pm);
    const pmSide = (samples, errors) => (pmOk ? side(samples, errors) : notYet('cluster mode probe fails'));
    const rows = [];
    const cores = require('os').cpus().length;

    let t0 = nowMs();
    const lap = (what) => {
      ctx.log(`  ${what}: ${((nowMs() - t0) / 1000).toFixed(1)} s`);
      t0 = nowMs();
    };

    const sv = new Servers(ctx);
    const tools = pmOk ? ['pm', 'pm2'] : ['pm2'];
    // The reference rolling restart under load: full runs only (it costs ~4 s of --quick).
    const reloadRef = !ctx.quick;
    let tp;
    let rl;
    let rw;
    let rf;
    try {
      for (const key of tools) await sv.startTool(key, ctx[key], 2);
      await sv.startRef('cluster', 2);
      await sv.startNode('node');
      lap('servers up');

      tp = await throughput(ctx, sv, [...tools, 'cluster', 'node']);
      await sv.stop('node');
      lap('req/s');

      rl = await reloadsUnderLoad(ctx, sv, reloadRef ? [...tools, 'cluster'] : tools);
      lap('reloads under load');

      for (const key of tools) await sv.startTool(key, ctx[key], 'fork');
      rf = await reloadsUnderLoad(ctx, sv, tools);
      lap('fork-mode reloads under load');

      for (const key of tools) await sv.startTool(key, ctx[key], 4);
      await sv.startRef('cluster', 4);
      rw = await reloadWallTime(ctx, sv, [...tools, 'cluster'], 4);
      lap('reload wall time, -i 4');
    } finally {
      await sv.stopAll();
    }

    // a. req/s
    const genNote =
      `load: ${tp.gen.name}${tp.gen.name === 'wrk' ? ' (-t1)' : ' (bench/apps/loadgen.js)'}, ${CONNECTIONS} connections, closed loop, ${tp.seconds} s windows × ${ctx.reps}, the servers taking turns, keep-alive and close alternating; ` +
      `the generator runs on the same ${cores} cores as the servers and takes about one of them, so these are "2 workers + load generator on ${cores} cores" numbers`;
    const errNote = Object.entries(tp.errs)
      .filter(([, n]) => n)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    for (const [mode, label] of [
      ['keepalive', 'keep-alive'],
      ['close', 'Connection: close'],
    ]) {
      rows.push(
        row({
          scenario: SCENARIO,
          metric: `cluster -i 2: HTTP req/s, ${label}`,
          unit: 'req/s',
          better: 'higher',
          pm: pmSide(tp.rps[mode].pm, tp.run.errors.pm),
          pm2: side(tp.rps[mode].pm2, tp.run.errors.pm2),
          ref: { label: 'node cluster, 2 workers', samples: tp.rps[mode].cluster },
          ...(mode === 'keepalive' ? { refTarget: { op: '>=', value: 0.95, text: '≥ 0.95× node cluster' } } : { target: { op: '>=', value: 1.5, text: '≥ 1.5× pm2' } }),
          note:
            mode === 'keepalive'
              ? `${genNote}. Node's cluster and pm2 (whose daemon is a Node cluster primary) use round-robin: the primary accepts every connection and passes it to a worker; pm-native's workers accept from the shared listening socket themselves${errNote ? `. Failed requests in these runs: ${errNote}` : ''}`
              : 'a new TCP connection per request: this is where a primary that accepts every connection (pm2, Node round-robin) costs',
        }),
      );
      rows.push(
        row({
          scenario: SCENARIO,
          metric: `1 bare node process: HTTP req/s, ${label}`,
          unit: 'req/s',
          better: 'higher',
          ref: { label: 'node app.js', samples: tp.rps[mode].node },
          note: mode === 'keepalive' ? 'the same app, one process, no cluster, same runs: what a second worker buys when the load generator takes a core' : undefined,
        }),
      );
    }

    // b. failed requests over rolling reloads under load: cluster -i 2, then one fork instance
    const reloadRows = (r, what, withRef) => {
      const refOf = (k) => (withRef ? { label: 'node cluster rolling restart', samples: r[k].cluster } : undefined);
      const kinds = (k) =>
        Object.entries(r.kinds[k] || {})
          .map(([x, c]) => `${x} ${c}`)
          .join(', ') || 'none';
      const sideKey = (key, k) => (key === 'pm' ? pmSide(r[k].pm, r.run.errors.pm) : side(r[k][key], r.run.errors[key]));
      rows.push(
        row({
          scenario: SCENARIO,
          metric: `${what}: failed requests over ${RELOADS} reloads, Connection: close`,
          unit: 'count',
          pm: sideKey('pm', 'close'),
          pm2: sideKey('pm2', 'close'),
          ref: refOf('close'),
          absTarget: { stat: 'max', op: '<=', value: 0, text: '0 failed' },
          note:
            `bench/apps/loadgen.js with ${RELOAD_CONNECTIONS} connections (half keep-alive, half Connection: close) saturating the ${cores} cores while \`reload\` runs ${RELOADS} times back to back (${r.reps} run${r.reps > 1 ? 's' : ''} each${withRef || what.startsWith('fork') ? '' : '; the reference runs in full runs only'}); ` +
            `failed = connection error, reset, no answer within ${RELOAD_TIMEOUT_MS / 1000} s, or non-200. Requests served per run: pm-native ${fmtMed(r.served.pm)}, pm2 ${fmtMed(r.served.pm2)}${withRef ? `, node ${fmtMed(r.served.cluster)}` : ''}; ` +
            `one reload under this load (median, max): pm-native ${fmtMedMax(r.cmdMs.pm)}, pm2 ${fmtMedMax(r.cmdMs.pm2)}${withRef ? `, node ${fmtMedMax(r.cmdMs.cluster)}` : ''}. ` +
            `Failure kinds (both connection kinds): pm-native ${kinds('pm')}; pm2 ${kinds('pm2')}${withRef ? `; node ${kinds('cluster')}` : ''}`,
        }),
      );
      rows.push(
        row({
          scenario: SCENARIO,
          metric: `${what}: failed requests over ${RELOADS} reloads, keep-alive`,
          unit: 'count',
          pm: sideKey('pm', 'ka'),
          pm2: sideKey('pm2', 'ka'),
          ref: refOf('ka'),
          absTarget: { stat: 'max', op: '<=', value: 0, text: '0 failed' },
          note:
            "same runs. Node's server.close() (on cluster disconnect too) destroys idle keep-alive connections, so a request the client has just sent on one fails with ECONNRESET: Node's own cluster rolling restart loses those. pm-native's preload drains instead (Connection: close on further answers, idle connections ended after 250 ms)",
        }),
      );
    };
    reloadRows(rl, 'cluster -i 2', reloadRef);
    reloadRows(rf, 'fork mode, 1 instance', false);

    // c. reload wall time, -i 4
    rows.push(
      row({
        scenario: SCENARIO,
        metric: 'cluster -i 4: reload → 4 new workers answer',
        unit: 'ms',
        pm: pmSide(rw.samples.pm, rw.run.errors.pm),
        pm2: side(rw.samples.pm2, rw.run.errors.pm2),
        ref: { label: 'node cluster rolling restart, 4 workers', samples: rw.samples.cluster },
        note:
          'idle apps; clock from spawning `reload` until it has returned and each new worker pid (from jlist) has answered an HTTP probe (fresh connections, 2 loops, every ~3 ms, throughout); ' +
          `until the command returns alone: pm-native ${fmtMed(rw.cmdMs.pm)} ms, pm2 ${fmtMed(rw.cmdMs.pm2)} ms, node ${fmtMed(rw.cmdMs.cluster)} ms (medians). pm2 replaces 2 instances at a time (its default), pm-native and the reference one at a time`,
      }),
    );
    return { rows };
  },
};
