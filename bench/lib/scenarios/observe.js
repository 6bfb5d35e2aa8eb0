'use strict';
// 6b. The daemon while it is watched: the 20-app fleets (each pm-native app reports its code
// metrics every 2 s), read once a second the way people watch them. pm-native: `pm monit` in
// tmux, one dashboard event stream and a /metrics scrape each second. pm2: `pm2 monit` in tmux
// and a `pm2 jlist` each second (what a Prometheus exporter asks pm2 for on a scrape). Both
// daemons are measured in the same windows (CPU from /proc, 10 ms ticks; VmRSS at the end).
// Needs tmux (Debian package); the scenario fails with a note without it.

const cp = require('child_process');
const http = require('http');
const { cpuMs, rssKiB, sleep } = require('../proc');
const { HOST, freePort } = require('../http');
const { row, side } = require('../measure');

const N = 20;

/** The run's environment (its marker): a tmux server and its panes left by an interrupted run are swept. */
function tmux(ctx, sock, args) {
  const r = cp.spawnSync('tmux', ['-L', sock, ...args], { encoding: 'utf8', env: ctx.lab.baseEnv() });
  if (r.error) throw new Error(`tmux: ${r.error.message}`);
  return r;
}

/** Starts `<bin> monit` for `tool` in a detached tmux session; returns its stopper. */
function monit(ctx, tool, home) {
  const sock = `pm-bench-observe-${tool.name}-${process.pid}`;
  const env = Object.entries(tool.homeEnv(home))
    .map(([k, v]) => `${k}='${v}'`)
    .join(' ');
  const r = tmux(ctx, sock, ['new-session', '-d', '-x', '120', '-y', '40', `env ${env} '${tool.bin}' monit`]);
  if (r.status !== 0) throw new Error(`tmux new-session: ${r.stderr.trim()}`);
  return () => tmux(ctx, sock, ['kill-server']);
}

module.exports = {
  id: 'observe',
  title: `The daemon while monit, the dashboard and /metrics read it, ${N} apps`,
  fleets: [N],

  async run(ctx) {
    const { pm, pm2, reps } = ctx;
    const fleets = { pm: await ctx.fleets.get(pm, N), pm2: await ctx.fleets.get(pm2, N) };
    const windowMs = ctx.quick ? 5000 : 20000;
    const cpu = { pm: [], pm2: [] };
    const rss = { pm: [], pm2: [] };
    const stops = [];
    const home = fleets.pm.home;
    try {
      const mPort = await freePort();
      const metricsOut = pm.run(home, ['metrics', '--port', String(mPort)]).stdout;
      stops.push(() => pm.run(home, ['metrics', '--off'], { check: false }));
      const token = /Bearer ([0-9a-f]{32})/.exec(metricsOut);
      if (!token) throw new Error(`pm metrics printed no token: ${metricsOut.trim()}`);
      const dPort = await freePort();
      const url = new URL(pm.run(home, ['dashboard', '--port', String(dPort)]).stdout.trim());
      stops.push(() => pm.run(home, ['dashboard', '--off'], { check: false }));
      stops.push(monit(ctx, pm, home));
      stops.push(monit(ctx, pm2, fleets.pm2.home));
      // The dashboard's event stream, read as a browser would.
      const sse = http.get(`${url.origin}/api/events?token=${url.searchParams.get('token')}`, (res) => res.resume());
      sse.on('error', () => {});
      stops.push(() => sse.destroy());
      const tick = setInterval(() => {
        http.get({ host: HOST, port: mPort, path: '/metrics', headers: { authorization: `Bearer ${token[1]}` } }, (res) => res.resume()).on('error', () => {});
        cp.execFile(pm2.bin, ['jlist'], { env: pm2.env(fleets.pm2.home), maxBuffer: 64 << 20 }, () => {});
      }, 1000);
      stops.push(() => clearInterval(tick));
      await sleep(3000);
      for (let i = 0; i < reps; i++) {
        const before = { pm: cpuMs(fleets.pm.daemonPid), pm2: cpuMs(fleets.pm2.daemonPid) };
        const t0 = Date.now();
        await sleep(windowMs);
        const secs = (Date.now() - t0) / 1000;
        for (const k of ['pm', 'pm2']) {
          const now = cpuMs(fleets[k].daemonPid);
          if (now == null || before[k] == null) continue;
          cpu[k].push((now - before[k]) / 10 / secs); // ms per s / 10 = % of one core
          rss[k].push(rssKiB(fleets[k].daemonPid) / 1024);
        }
      }
    } finally {
      for (const f of stops.reverse()) f();
    }
    const w = `${windowMs / 1000} s`;
    const scenario = '6b watched';
    const note = `${reps} windows of ${w}, both daemons in the same windows; pm-native: monit + dashboard stream + /metrics each second; pm2: pm2 monit + pm2 jlist each second`;
    return {
      rows: [
        row({ scenario, metric: `daemon CPU while watched, ${N} apps (% of one core)`, unit: '%', pm: side(cpu.pm), pm2: side(cpu.pm2), absTarget: { op: '<=', value: 1, text: '≤ 1% of a core' }, note }),
        row({ scenario, metric: `daemon RSS while watched, ${N} apps (VmRSS)`, unit: 'MiB', pm: side(rss.pm), pm2: side(rss.pm2), absTarget: { stat: 'max', op: '<=', value: 12, text: '≤ 12 MiB' } }),
      ],
    };
  },
};
