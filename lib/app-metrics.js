'use strict';
// Code metrics without @pm2/io: required lazily by app-preload.js (from the daemon's home) in
// the apps the daemon starts. Every SAMPLE_MS it sends, over the IPC channel the app already
// has, pm2's `axm:monitor` message: heap used / total, event-loop delay p50 / p95, active
// handles and requests, and for `http` servers requests per minute and mean / p95 latency.
// The daemon keeps the last values per process (`axm_monitor` in jlist, `pm describe`,
// `pm monit`, /metrics). Cheap by construction: one unref'd timer, Node's own event-loop
// histogram, and one diagnostics channel for HTTP (no patching of http; a counter per
// request, and a `finish` listener on one request in eight for the latency).

(function pmNativeAppMetrics() {
  const SAMPLE_MS = Math.max(250, Number(process.env.PM_NATIVE_METRICS_INTERVAL) || 2000);
  const RESERVOIR = 512; // latencies kept per window for the p95
  const v8 = require('v8');
  const { monitorEventLoopDelay, performance } = require('perf_hooks');

  // Node's histogram times its own timer, so each value includes the timer's period.
  const RESOLUTION_MS = 50;
  let loop = null;
  try {
    loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    loop.enable();
  } catch {
    loop = null;
  }

  // --- HTTP: requests and latency, from Node's diagnostics channel ----------------------
  // Every request is counted; one in LATENCY_EVERY is timed to its response's `finish`, which
  // keeps the per-request cost to one counter increment for most requests.
  const LATENCY_EVERY = 8;
  const latencies = new Float64Array(RESERVOIR);
  let requests = 0;
  let timed = 0;
  let latencySum = 0;
  let httpSeen = false;
  let windowStart = performance.now();
  try {
    const dc = require('diagnostics_channel');
    if (typeof dc.subscribe === 'function') {
      dc.subscribe('http.server.request.start', (msg) => {
        httpSeen = true;
        if (++requests % LATENCY_EVERY !== 0) return;
        const t0 = performance.now();
        msg.response.once('finish', () => {
          const ms = performance.now() - t0;
          latencies[timed % RESERVOIR] = ms;
          latencySum += ms;
          timed += 1;
        });
      });
    }
  } catch {
    // An old Node without this channel: no HTTP metrics.
  }

  const round = (n) => Math.round(n * 100) / 100;
  const MIB = 1024 * 1024;

  function percentile(sorted, p) {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
  }

  function sample() {
    if (!process.connected) return;
    const heap = v8.getHeapStatistics();
    const data = {
      'Used Heap Size': { value: round(heap.used_heap_size / MIB), unit: 'MiB' },
      'Heap Size': { value: round(heap.total_heap_size / MIB), unit: 'MiB' },
      'Heap Usage': { value: round((heap.used_heap_size / heap.heap_size_limit) * 100), unit: '%' },
    };
    if (loop) {
      const lag = (p) => round(Math.max(0, loop.percentile(p) / 1e6 - RESOLUTION_MS));
      data['Event Loop Latency'] = { value: lag(50), unit: 'ms' };
      data['Event Loop Latency p95'] = { value: lag(95), unit: 'ms' };
      loop.reset();
    }
    if (typeof process._getActiveHandles === 'function') {
      data['Active handles'] = { value: process._getActiveHandles().length };
    }
    if (typeof process._getActiveRequests === 'function') {
      data['Active requests'] = { value: process._getActiveRequests().length };
    }
    const now = performance.now();
    if (httpSeen) {
      const n = Math.min(timed, RESERVOIR);
      const sorted = Array.from(latencies.subarray(0, n)).sort((a, b) => a - b);
      data.HTTP = { value: round((requests * 60000) / Math.max(1, now - windowStart)), unit: 'req/min' };
      data['HTTP Mean Latency'] = { value: round(timed ? latencySum / timed : 0), unit: 'ms' };
      data['HTTP P95 Latency'] = { value: round(percentile(sorted, 0.95)), unit: 'ms' };
    }
    requests = 0;
    timed = 0;
    latencySum = 0;
    windowStart = now;
    try {
      process.send({ type: 'axm:monitor', data });
    } catch {
      // The channel closed between the check and the send: the daemon is going away.
    }
  }

  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
})();
