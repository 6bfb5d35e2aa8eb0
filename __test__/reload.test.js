'use strict';
// Zero-downtime reload in both modes, under load from keep-alive and Connection: close clients.
// The servers here keep connections alive (Node's default), which is where a reload usually
// loses requests: the old process closes an idle keep-alive connection just as the client
// sends its next request on it.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { makeCtx, waitFor, isAlive } = require('./helpers');
const { freePort, get, seenAll, loadLoop } = require('./http-helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

// Answers who it is; on SIGINT it notes that it was stopped gracefully, then exits.
const SERVER = `
const http = require('http');
const cluster = require('cluster');
const fs = require('fs');
http.createServer((req, res) => {
  res.end(JSON.stringify({ pid: process.pid, primary: cluster.isPrimary, worker: cluster.isWorker,
    instance: process.env.NODE_APP_INSTANCE }));
}).listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
process.on('SIGINT', () => {
  if (process.env.BYE_DIR) fs.writeFileSync(require('path').join(process.env.BYE_DIR, String(process.pid)), 'bye');
  process.exit(0);
});
`;

/** 5 reloads of `name` under load; every instance gets a new pid each time, no request fails. */
async function reloadUnderLoad(name, port, count) {
  const load = loadLoop(port, { loops: 8 });
  let pids = ctx.procs(name).map((p) => p.pid);
  try {
    for (let i = 0; i < 5; i++) {
      const r = await ctx.pmAsync(['reload', name]);
      assert.equal(r.status, 0, r.stderr);
      const now = ctx.procs(name);
      assert.equal(now.length, count);
      for (const p of now) assert.ok(!pids.includes(p.pid), `instance ${p.pm_id} got a new pid`);
      pids = now.map((p) => p.pid);
    }
  } finally {
    await load.stop();
  }
  assert.ok(load.stats.keepAliveOk > 100, `only ${load.stats.keepAliveOk} keep-alive requests went through: ${JSON.stringify({ ...load.stats, errors: load.stats.errors.slice(0, 5) })}`);
  assert.ok(load.stats.ok - load.stats.keepAliveOk > 100, 'Connection: close requests went through');
  assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.errors.slice(0, 5).join(', ')}`);
  return pids;
}

test('cluster mode, keep-alive server: 5 reloads under load, no failed request', async () => {
  const port = await freePort();
  ctx.write('server.js', SERVER);
  ctx.ok(['start', 'server.js', '-i', '2', '--name', 'cl'], { env: { PORT: String(port) } });
  await ctx.online('cl', { count: 2 });
  await waitFor(() => get(port).then(() => true, () => false), { message: 'port answering' });
  await reloadUnderLoad('cl', port, 2);
  ctx.ok(['delete', 'cl']);
});

test('fork mode, instances: 2: both share the port as plain processes, and reload with no failed request', async () => {
  const port = await freePort();
  ctx.write('server.js', SERVER);
  const eco = ctx.write(
    'fork.config.js',
    `module.exports = { apps: [{ name: 'fk', script: 'server.js', instances: 2, exec_mode: 'fork', env: { PORT: '${port}' } }] };\n`,
  );
  ctx.ok(['start', eco]);
  const procs = await ctx.online('fk', { count: 2 });
  assert.deepEqual(procs.map((p) => p.pm2_env.exec_mode), ['fork_mode', 'fork_mode']);
  await waitFor(() => get(port).then(() => true, () => false), { message: 'port answering' });
  // Online is not listening yet: ask until both have answered (bounded).
  let seen;
  await waitFor(async () => (seen = await seenAll(port, procs.map((p) => p.pid), 100)).size === 2, {
    message: 'both instances serve on the one port',
  });
  for (const r of seen.values()) {
    assert.equal(r.primary, true, 'a fork-mode app is not a cluster worker');
    assert.equal(r.worker, false);
  }
  assert.deepEqual([...seen.values()].map((r) => r.instance).sort(), ['0', '1']);
  await reloadUnderLoad('fk', port, 2);
  ctx.ok(['delete', 'fk']);
});

test('fork mode, one instance: reload under load loses nothing and still stops the old process with SIGINT', async () => {
  const port = await freePort();
  const bye = fs.mkdtempSync(path.join(ctx.home, 'bye-'));
  ctx.write('server.js', SERVER);
  ctx.ok(['start', 'server.js', '--name', 'one'], { env: { PORT: String(port), BYE_DIR: bye } });
  const [first] = await ctx.online('one');
  await waitFor(() => get(port).then(() => true, () => false), { message: 'port answering' });
  await reloadUnderLoad('one', port, 1);
  assert.equal(isAlive(first.pid), false);
  assert.ok(fs.readdirSync(bye).includes(String(first.pid)), 'the old process ran its SIGINT handler');
  // A restart (not a reload) still works: the socket is released and bound again.
  ctx.ok(['restart', 'one']);
  await ctx.online('one');
  await waitFor(() => get(port).then(() => true, () => false), { message: 'answering after restart' });
  ctx.ok(['delete', 'one']);
});

test('fork mode: a host name is resolved and shared too; another app on the same port gets EADDRINUSE', async () => {
  const port = await freePort();
  ctx.write('server.js', SERVER);
  // ipv4first: localhost is 127.0.0.1 then, wherever ::1 is listed first.
  const v4 = ['--node-args', '--dns-result-order=ipv4first'];
  ctx.ok(['start', 'server.js', '--name', 'byname', ...v4], { env: { PORT: String(port), HOST: 'localhost' } });
  await ctx.online('byname');
  await waitFor(() => get(port).then(() => true, () => false), { message: 'port answering' });
  const [before] = ctx.procs('byname');
  const r = await ctx.pmAsync(['reload', 'byname']);
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(ctx.procs('byname')[0].pid, before.pid);
  assert.ok((await get(port)).pid > 0);

  ctx.ok(['start', 'server.js', '--name', 'intruder', '--max-restarts', '1', ...v4], { env: { PORT: String(port), HOST: 'localhost' } });
  const errLog = path.join(ctx.home, 'logs', 'intruder-error.log');
  await waitFor(() => fs.existsSync(errLog) && /EADDRINUSE/.test(fs.readFileSync(errLog, 'utf8')), { message: 'EADDRINUSE in the log' });
  const seen = await seenAll(port, [ctx.procs('byname')[0].pid]);
  assert.equal(seen.size, 1, 'the first app keeps the port');
  ctx.ok(['delete', 'byname', 'intruder']);
});

test('fork mode: an app that does not listen is restarted in place, without waiting for listen_timeout', async () => {
  ctx.write('worker.js', 'setInterval(() => {}, 1000);\n');
  ctx.ok(['start', 'worker.js', '--name', 'quiet', '--listen-timeout', '8000']);
  const [before] = await ctx.online('quiet');
  const t0 = Date.now();
  const r = await ctx.pmAsync(['reload', 'quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 < 6000, `reload took ${Date.now() - t0} ms`);
  const [after] = await ctx.online('quiet');
  assert.notEqual(after.pid, before.pid);
  assert.equal(isAlive(before.pid), false);
  ctx.ok(['delete', 'quiet']);
});

test('fork mode: an app that closed its IPC channel still listens, bound directly', async () => {
  const port = await freePort();
  ctx.write(
    'lonely.js',
    `process.disconnect();
require('http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  ctx.ok(['start', 'lonely.js', '--name', 'lonely'], { env: { PORT: String(port) } });
  const [p] = await ctx.online('lonely');
  const pid = await waitFor(
    () =>
      new Promise((resolve) => {
        http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(Number(body)));
        }).on('error', () => resolve(false));
      }),
    { message: 'the app answers' },
  );
  assert.equal(pid, p.pid);
  ctx.ok(['delete', 'lonely']);
});
