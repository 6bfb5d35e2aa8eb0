#!/usr/bin/env node
'use strict';
// What the code metrics cost a hello-world HTTP server: two copies run under pm-native, one
// with the app metrics (the default) and one with PM_NATIVE_APP_METRICS=false, and wrk loads
// them in turns. On a shared machine req/s swings with the neighbours, so the figure that
// decides is the server's own CPU time per request (from /proc), whose ratio is the req/s a
// saturated core would lose. Needs `wrk` (Debian package). Usage: node bench/app-metrics-cost.js
// [rounds=6] [seconds=4].

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROUNDS = Number(process.argv[2]) || 6;
const SECONDS = Number(process.argv[3]) || 4;
const BIN = path.join(__dirname, '..', 'bin', 'pm');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-metrics-'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-metrics-app-'));
const app = path.join(dir, 'hello.js');
fs.writeFileSync(app, `require('http').createServer((req, res) => res.end('hello world')).listen(Number(process.env.APP_PORT), '127.0.0.1');\n`);
const env = { ...process.env, PM_HOME: home };

function pm(args, extra = {}) {
  const r = spawnSync(BIN, args, { env: { ...env, ...extra }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const ticks = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (1/100 s)
};

function wrk(port, seconds) {
  const r = spawnSync('wrk', ['-t1', '-c20', `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  if (r.error) throw new Error(`wrk: ${r.error.message} (apt-get install wrk)`);
  const total = Number((r.stdout.match(/(\d+) requests in/) || [])[1]);
  const rps = Number((r.stdout.match(/Requests\/sec:\s+([\d.]+)/) || [])[1]);
  return { total, rps };
}

const variants = [
  { name: 'with metrics', port: 18401, extra: {} },
  { name: 'without', port: 18402, extra: { PM_NATIVE_APP_METRICS: 'false' } },
];
try {
  for (const v of variants) pm(['start', app, '--name', v.name.replace(' ', '-')], { ...v.extra, APP_PORT: String(v.port) });
  const list = JSON.parse(pm(['jlist']));
  for (const v of variants) {
    v.pid = list.find((p) => p.name === v.name.replace(' ', '-')).pid;
    v.cpu = 0;
    v.requests = 0;
    v.rps = [];
    // Until it answers (the start returns before the app listens), then a warm-up second.
    for (let t = 0; t < 100 && !(wrk(v.port, 1).total > 0); t++);
  }
  for (let i = 0; i < ROUNDS; i++) {
    for (const v of i % 2 ? [...variants].reverse() : variants) {
      const before = ticks(v.pid);
      const r = wrk(v.port, SECONDS);
      v.cpu += ticks(v.pid) - before;
      v.requests += r.total;
      v.rps.push(r.rps);
    }
  }
  const us = (v) => (v.cpu * 10000) / v.requests; // µs of CPU per request
  for (const v of variants) {
    const median = [...v.rps].sort((a, b) => a - b)[Math.floor(v.rps.length / 2)];
    console.log(`${v.name.padEnd(13)} ${us(v).toFixed(2)} µs CPU/request, median ${Math.round(median)} req/s over ${ROUNDS} x ${SECONDS}s`);
  }
  const loss = (1 - us(variants[1]) / us(variants[0])) * 100;
  console.log(`req/s lost to the metrics on a saturated core: ${loss.toFixed(1)}%`);
} finally {
  spawnSync(BIN, ['kill'], { env });
}
