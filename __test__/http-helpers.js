'use strict';
// HTTP plumbing for the cluster and reload tests: a free port, one GET of a server that answers
// JSON, and a bounded load loop of keep-alive and Connection: close clients (127.0.0.1 only).

const http = require('node:http');
const net = require('node:net');

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

/** One GET on a fresh connection (or through `agent`); resolves with the parsed JSON body. */
function get(port, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** Requests until every pid in `pids` has answered (bounded); a Map of pid → answer. */
async function seenAll(port, pids, max = 400) {
  const seen = new Map();
  for (let i = 0; i < max && seen.size < pids.length; i++) {
    const r = await get(port);
    seen.set(r.pid, r);
  }
  return seen;
}

/**
 * `loops` request loops back to back until stop(), even ones on keep-alive connections, odd
 * ones with Connection: close. Each loop is bounded; a request unanswered in 5 s fails.
 */
function loadLoop(port, { loops = 4 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.ceil(loops / 2) });
  const stats = { ok: 0, keepAliveOk: 0, failed: 0, errors: [] };
  let running = true;
  const one = (keepAlive) =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: keepAlive ? agent : false }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) {
            stats.ok++;
            if (keepAlive) stats.keepAliveOk++;
          } else stats.failed++;
          resolve();
        });
      });
      req.on('error', (e) => {
        stats.failed++;
        stats.errors.push(e.code || e.message);
        resolve();
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    });
  const running_ = Array.from({ length: loops }, async (_, w) => {
    for (let i = 0; running && i < 200000; i++) await one(w % 2 === 0);
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(running_);
      agent.destroy();
    },
  };
}

module.exports = { freePort, get, seenAll, loadLoop };
