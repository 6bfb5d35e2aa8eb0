'use strict';
// Feature probes, so that a scenario reports "not yet" until pm-native has the feature and starts
// measuring by itself once it lands. Results are cached per run.

const path = require('path');
const { freePort, waitForHttp } = require('./http');
const { sleep } = require('./proc');
const { APPS } = require('./fleet');

/**
 * Cluster mode works when `start http.js -i 2` on one fixed port brings up two instances that
 * stay online without restarts (without cluster support the second one dies on EADDRINUSE).
 */
async function clusterWorks(ctx, tool) {
  const key = `cluster:${tool.name}`;
  if (key in ctx.caps) return ctx.caps[key];
  const home = ctx.lab.newHome(tool, 'probe-cluster');
  let ok = false;
  try {
    const port = await freePort();
    tool.run(home, ['start', path.join(APPS, 'http.js'), '-i', '2', '--name', 'probe'], { env: { PORT: String(port) }, timeoutMs: 30000 });
    await waitForHttp(port, { deadlineMs: 5000, intervalMs: 10 });
    await sleep(1000);
    const list = tool.jlist(home);
    ok = list.length === 2 && list.every((p) => p.pm2_env.status === 'online' && Number(p.pm2_env.restart_time) === 0);
  } catch {
    ok = false;
  } finally {
    await ctx.lab.teardown(home);
  }
  ctx.caps[key] = ok;
  ctx.log(`  probe: ${tool.name} cluster mode (-i 2 on one port) ${ok ? 'works' : 'not available'}`);
  return ok;
}

module.exports = { clusterWorks };
