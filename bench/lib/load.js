'use strict';
// HTTP load for the cluster scenario, always from a separate process and only to 127.0.0.1:
// `wrk` when it is on PATH (less CPU per request, which matters when the generator shares two
// cores with the servers), otherwise bench/apps/loadgen.js (Node, raw sockets). Set
// PMBENCH_LOADGEN=node (or wrk) to force one. Every run is bounded in time; a generator that
// overstays its deadline is SIGKILLed.

const fs = require('fs');
const path = require('path');
const { HOST } = require('./http');
const { killPid, sleep } = require('./proc');
const { APPS } = require('./fleet');

const LOADGEN = path.join(APPS, 'loadgen.js');

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {}
  }
  return null;
}

let chosen = null;
/** { name: 'wrk' | 'node loadgen', bin } — decided once per run. */
function generator() {
  if (chosen) return chosen;
  const want = (process.env.PMBENCH_LOADGEN || '').toLowerCase();
  const wrk = want === 'node' ? null : onPath('wrk');
  if (want === 'wrk' && !wrk) throw new Error('PMBENCH_LOADGEN=wrk but wrk is not on PATH');
  chosen = wrk ? { name: 'wrk', bin: wrk } : { name: 'node loadgen', bin: process.execPath };
  return chosen;
}

/** Waits for a spawned generator, SIGKILLing it if it is still running after `deadlineMs`. */
async function finished(handle, deadlineMs) {
  const timer = setTimeout(() => killPid(handle.pid, 'SIGKILL'), deadlineMs);
  const r = await handle.done;
  clearTimeout(timer);
  return r;
}

const WRK_UNITS = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Parses wrk's text report into the loadgen's shape. */
function parseWrk(text) {
  const m = /(\d+) requests in ([\d.]+)(us|ms|s|m|h),/.exec(text);
  if (!m) throw new Error(`cannot read wrk's report: ${text.trim().slice(0, 200)}`);
  const requests = Number(m[1]);
  const seconds = Number(m[2]) * WRK_UNITS[m[3]];
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const non200 = non ? Number(non[1]) : 0;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errorKinds = {};
  let errors = 0;
  if (se) {
    ['connect', 'read', 'write', 'timeout'].forEach((k, i) => {
      const n = Number(se[i + 1]);
      if (n) errorKinds[k] = n;
      errors += n;
    });
  }
  const ok = requests - non200;
  return { tool: 'wrk', seconds, requests, ok, non200, errors, rps: ok / seconds, errorKinds };
}

/**
 * One fixed-duration closed-loop run against 127.0.0.1:port. mode: 'keepalive' | 'close' (or
 * 'mixed', and `nodeOnly`, which always use the Node generator).
 * Returns { tool, seconds, requests, ok, non200, errors, rps, errorKinds }; rps counts 200s only.
 * wrk takes whole seconds, so `seconds` is rounded up to one for it.
 */
async function measureRps(lab, { port, mode, connections = 32, seconds = 3, warmup = 0, nodeOnly = false }) {
  const gen = nodeOnly || mode === 'mixed' ? { name: 'node loadgen', bin: process.execPath } : generator();
  const url = `http://${HOST}:${port}/`;
  if (gen.name === 'wrk') {
    const secs = Math.max(1, Math.round(seconds));
    const args = ['-t1', `-c${connections}`, `-d${secs}s`, '--timeout', '5s'];
    if (mode === 'close') args.push('-H', 'Connection: close');
    const h = lab.spawnChild(gen.bin, [...args, url]);
    const r = await finished(h, secs * 1000 + 15000);
    if (r.code !== 0) throw new Error(`wrk exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`);
    return parseWrk(r.stdout);
  }
  const args = [LOADGEN, '--port', String(port), '--connections', String(connections), '--seconds', String(seconds), '--warmup', String(warmup), '--mode', mode];
  const h = lab.spawnChild(gen.bin, args);
  const r = await finished(h, (seconds + warmup) * 1000 + 15000);
  if (r.code !== 0) throw new Error(`loadgen exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 200)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/**
 * Open-ended load with the Node generator (it classifies every failed request, wrk does not say
 * which connections failed): starts it, resolves `ready` at its first answer, and `stop()` ends
 * it (SIGTERM; the requests in flight may finish) and returns its JSON report. The generator
 * stops by itself after maxSeconds in any case.
 */
function startLoad(lab, { port, mode = 'mixed', connections = 16, maxSeconds = 120, timeoutMs = 5000 }) {
  const args = [LOADGEN, '--port', String(port), '--connections', String(connections), '--seconds', String(maxSeconds), '--mode', mode, '--timeout-ms', String(timeoutMs)];
  const h = lab.spawnChild(process.execPath, args);
  const done = finished(h, maxSeconds * 1000 + timeoutMs + 15000);
  const ready = new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error('load generator: no answer within 10 s')), 10000);
    h.child.stderr.on('data', (c) => {
      err += c;
      if (err.includes('READY')) resolve(clearTimeout(t));
    });
    done.then(() => reject(new Error(`load generator exited early: ${err.trim().slice(0, 200)}`)));
  });
  ready.catch(() => {}); // the caller awaits it; this keeps an early exit from being unhandled
  const stop = async () => {
    killPid(h.pid, 'SIGTERM');
    const r = await Promise.race([done, sleep(timeoutMs + 10000).then(() => null)]);
    if (!r) {
      killPid(h.pid, 'SIGKILL');
      throw new Error('load generator did not stop');
    }
    if (r.code !== 0) throw new Error(`loadgen exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 200)}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  return { pid: h.pid, ready, stop };
}

module.exports = { generator, measureRps, startLoad, parseWrk };
