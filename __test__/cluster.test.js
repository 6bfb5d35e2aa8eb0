'use strict';
// Cluster mode: the daemon is Node's cluster primary, so an unmodified HTTP server started with
// `-i 2` runs as two workers sharing one listening socket.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { makeCtx, waitFor, isAlive } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const SERVER = `
const http = require('http');
const cluster = require('cluster');
http.createServer((req, res) => {
  res.setHeader('connection', 'close');
  res.end(JSON.stringify({ pid: process.pid, isWorker: cluster.isWorker, id: cluster.worker && cluster.worker.id,
    instance: process.env.NODE_APP_INSTANCE }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

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

function get(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** Requests until every pid in `pids` has answered (bounded). */
async function seenAll(port, pids, max = 400) {
  const seen = new Map();
  for (let i = 0; i < max && seen.size < pids.length; i++) {
    const r = await get(port);
    seen.set(r.pid, r);
  }
  return seen;
}

test('-i 2: two cluster workers share the port, both serve, instances 0 and 1', async () => {
  const port = await freePort();
  ctx.write('server.js', SERVER);
  ctx.ok(['start', 'server.js', '-i', '2', '--name', 'web'], { env: { PORT: String(port) } });
  const procs = await ctx.online('web', { count: 2 });
  assert.deepEqual(procs.map((p) => p.pm2_env.exec_mode), ['cluster_mode', 'cluster_mode']);
  const pids = procs.map((p) => p.pid);
  await waitFor(async () => get(port).then(() => true, () => false), { message: 'port answering' });
  const seen = await seenAll(port, pids);
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), 'both workers answered');
  for (const r of seen.values()) {
    assert.equal(r.isWorker, true);
    assert.ok(Number.isInteger(r.id) && r.id >= 1);
  }
  assert.deepEqual([...seen.values()].map((r) => r.instance).sort(), ['0', '1']);
});

test('a crashed worker is replaced while the other keeps serving', async () => {
  const procs = await ctx.online('web', { count: 2 });
  const [victim, survivor] = procs;
  const port = await (async () => {
    for (const p of procs) if (p.pm2_env.PORT) return Number(p.pm2_env.PORT);
    throw new Error('no PORT in pm2_env');
  })();
  process.kill(victim.pid, 'SIGKILL');
  // The survivor answers throughout: the listening socket belongs to the daemon.
  for (let i = 0; i < 20; i++) assert.equal((await get(port)).pid === victim.pid, false);
  await waitFor(() => {
    const now = ctx.procs('web').find((p) => p.pm_id === victim.pm_id);
    return now && now.pid && now.pid !== victim.pid && now.pm2_env.status === 'online';
  }, { message: 'replacement online' });
  const again = ctx.procs('web');
  assert.ok(isAlive(survivor.pid));
  const seen = await seenAll(port, again.map((p) => p.pid));
  assert.equal(seen.size, 2, 'the replacement serves too');
});
