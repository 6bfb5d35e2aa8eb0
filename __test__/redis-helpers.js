'use strict';
// A real redis-server per test: 127.0.0.1, a free port, a temp dir, no persistence, killed by
// pid when the test file ends (queue-redis.test.js, queue-apps.test.js).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { after } = require('node:test');
const { spawn, spawnSync } = require('node:child_process');
const Redis = require('ioredis');
const { waitFor } = require('./helpers');

const REDIS = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-redis-'));
const started = new Set();
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts redis-server on `port` (a free one if not given); resolves once it answers PING. */
async function startRedis(port) {
  assert.ok(REDIS, 'redis-server is installed (.ci/run installs it)');
  port = port || (await freePort());
  const dir = fs.mkdtempSync(path.join(tmp, 'r-'));
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  started.add(child);
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    },
    { message: `redis-server on ${port}` },
  );
  return {
    url,
    port,
    child,
    async stop() {
      child.kill('SIGKILL');
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, { message: 'redis-server died' });
    },
  };
}

module.exports = { REDIS, tmp, started, freePort, startRedis };
