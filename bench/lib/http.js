'use strict';
// Loopback-only HTTP probes. Every loop here is bounded by a deadline and an attempt count.

const http = require('http');
const net = require('net');
const { nowMs, sleep } = require('./proc');

const HOST = '127.0.0.1';

/** A port that was free a moment ago (bind 127.0.0.1:0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One GET on a fresh connection; resolves to { status, body } or null on any error. */
function getOnce(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    const req = http.request({ host: HOST, port, path: '/', method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => done({ status: res.statusCode, body }));
      res.on('error', () => done(null));
    });
    req.on('timeout', () => {
      req.destroy();
      done(null);
    });
    req.on('error', () => done(null));
    req.end();
  });
}

/**
 * Polls until a 200 answer whose body passes `accept` (default: any). Returns the elapsed ms
 * since `since` (default: now) or throws after `deadlineMs`. Bounded by time and attempts.
 */
async function waitForHttp(port, { since = nowMs(), deadlineMs = 15000, intervalMs = 2, accept = () => true } = {}) {
  const end = since + deadlineMs;
  const maxAttempts = Math.ceil(deadlineMs / Math.max(intervalMs, 1)) + 100;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const r = await getOnce(port, Math.max(50, Math.min(1000, end - nowMs())));
    const t = nowMs();
    if (r && r.status === 200 && accept(r.body)) return { ms: t - since, body: r.body };
    if (t >= end) break;
    await sleep(intervalMs);
  }
  throw new Error(`no HTTP answer on ${HOST}:${port} within ${deadlineMs} ms`);
}

module.exports = { HOST, freePort, getOnce, waitForHttp };
