#!/usr/bin/env node
'use strict';
// The daemon's cost while it is being watched: 20 idle Node apps (each reporting its code
// metrics every 2 s), `pm monit` running in tmux (the list every second), one dashboard
// event stream (the list every second) and a /metrics scrape every second. Prints the daemon's
// CPU (percent of one core) and resident memory, first with nobody watching, then watched.
// Needs tmux. Usage: node bench/observe-cost.js [seconds=60] [apps=20].

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const SECONDS = Number(process.argv[2]) || 60;
const APPS = Number(process.argv[3]) || 20;
const BIN = path.join(__dirname, '..', 'bin', 'pm');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-observe-'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-observe-app-'));
const app = path.join(dir, 'idle.js');
fs.writeFileSync(app, 'setInterval(() => {}, 1000);\n');
const env = { ...process.env, PM_HOME: home };
const TMUX = ['-L', `pm-bench-observe-${process.pid}`];

function pm(args) {
  const r = spawnSync(BIN, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ticks = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rssKiB = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);

async function measure(pid, seconds) {
  const t0 = ticks(pid);
  const start = process.hrtime.bigint();
  let maxRss = 0;
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    maxRss = Math.max(maxRss, rssKiB(pid));
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { cpu: ((ticks(pid) - t0) / 100 / secs) * 100, rss: rssKiB(pid), maxRss };
}

(async () => {
  const stop = [];
  try {
    for (let i = 0; i < APPS; i++) pm(['start', app, '--name', `idle-${i}`]);
    const pid = Number(fs.readFileSync(path.join(home, 'pm.pid'), 'utf8'));
    await sleep(3000);
    const quiet = await measure(pid, Math.min(20, SECONDS));
    console.log(`nobody watching: daemon CPU ${quiet.cpu.toFixed(2)}% of one core, RSS ${(quiet.rss / 1024).toFixed(1)} MiB`);

    const metricsToken = /Bearer ([0-9a-f]{32})/.exec(pm(['metrics', '--port', '18611']))[1];
    const url = new URL(pm(['dashboard', '--port', '18612']).trim());
    spawnSync('tmux', [...TMUX, 'new-session', '-d', '-x', '120', '-y', '40', `env PM_HOME='${home}' '${BIN}' monit`]);
    stop.push(() => spawnSync('tmux', [...TMUX, 'kill-server']));
    // The dashboard's event stream, read as a browser would.
    const sse = http.get(`${url.origin}/api/events?token=${url.searchParams.get('token')}`, (res) => res.resume());
    stop.push(() => sse.destroy());
    const scrape = setInterval(() => http.get(`http://127.0.0.1:18611/metrics?token=${metricsToken}`, (res) => res.resume()).on('error', () => {}), 1000);
    stop.push(() => clearInterval(scrape));
    await sleep(3000);
    const watched = await measure(pid, SECONDS);
    console.log(`monit + dashboard stream + /metrics each second: daemon CPU ${watched.cpu.toFixed(2)}% of one core, RSS ${(watched.rss / 1024).toFixed(1)} MiB (max ${(watched.maxRss / 1024).toFixed(1)} MiB) over ${SECONDS}s with ${APPS} apps`);
  } finally {
    for (const f of stop) f();
    spawnSync(BIN, ['kill'], { env });
  }
})();
