#!/usr/bin/env node
'use strict';
// What probes cost the daemon: 50 HTTP apps, first without probes, then each probed over HTTP
// every second; the daemon's CPU (utime + stime from /proc/<pid>/stat) over the same window.
// `node bench/health-probes.js [--apps 50] [--window 30]`. Own temporary home, 127.0.0.1 only,
// everything stopped by pid at the end.

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const APPS = arg('apps', 50);
const WINDOW_S = arg('window', 30);
const BIN = path.join(__dirname, '..', 'bin', 'pm');
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-health-'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-health-apps-'));
const env = { ...process.env, PM_HOME: home };
delete env.PM2_HOME;

const pm = (args) => {
  const r = spawnSync(BIN, args, { env, cwd: dir, encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`pm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]), Number(f[12])]; // utime, stime
}

async function measure(label, daemon) {
  await sleep(3000); // let start-up settle
  const t0 = process.hrtime.bigint();
  const c0 = cpuTicks(daemon);
  await sleep(WINDOW_S * 1000);
  const c1 = cpuTicks(daemon);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const share = (i) => (((c1[i] - c0[i]) / TICK) / secs) * 100;
  const pct = share(0) + share(1);
  console.log(
    `${label}: daemon CPU ${pct.toFixed(2)}% of one core over ${secs.toFixed(1)} s (user ${share(0).toFixed(2)}%, system ${share(1).toFixed(2)}%)`,
  );
  return pct;
}

async function main() {
  fs.writeFileSync(
    path.join(dir, 'app.js'),
    "require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n",
  );
  const ports = [];
  for (let i = 0; i < APPS; i++) ports.push(await freePort());
  const apps = (probed) =>
    ports.map((port, i) => ({
      name: `a${i}`,
      script: 'app.js',
      env: { PORT: port },
      ...(probed ? { health: { http: { port, path: '/health' }, interval: '1s', timeout: '500ms' } } : {}),
    }));
  fs.writeFileSync(path.join(dir, 'plain.json'), JSON.stringify({ apps: apps(false) }));
  fs.writeFileSync(path.join(dir, 'probed.json'), JSON.stringify({ apps: apps(true) }));
  pm(['start', 'plain.json']);
  const daemon = Number(fs.readFileSync(path.join(home, 'pm.pid'), 'utf8'));
  const base = await measure(`${APPS} apps, no probes`, daemon);
  pm(['delete', 'all']);
  pm(['start', 'probed.json']);
  const probed = await measure(`${APPS} apps, HTTP probe every 1 s`, daemon);
  const list = JSON.parse(pm(['jlist']));
  const healthy = list.filter((p) => p.pm2_env.health && p.pm2_env.health.status === 'healthy').length;
  const restarts = list.reduce((n, p) => n + p.pm2_env.restart_time, 0);
  const sick = list.find((p) => !(p.pm2_env.health && p.pm2_env.health.status === 'healthy'));
  if (sick) console.log(`e.g. ${sick.name}: ${JSON.stringify(sick.pm2_env.health)} status ${sick.pm2_env.status}`);
  console.log(`healthy: ${healthy}/${APPS}, restarts ${restarts}; probes cost ${(probed - base).toFixed(2)}% of one core`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    spawnSync(BIN, ['kill'], { env, cwd: dir, timeout: 30000 });
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
