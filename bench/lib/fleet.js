'use strict';
// Fleets: a daemon in its own home with N idle apps, shared by the scenarios that need one
// (CLI latency with 20 apps; daemon RSS, per-app RSS and idle CPU with 50). The runner creates
// a fleet on first use, grows a smaller one when a larger size is asked for next, and tears it
// down once no remaining scenario asks for it.

const fs = require('fs');
const path = require('path');
const { sleep } = require('./proc');

const APPS = path.resolve(__dirname, '..', 'apps');

/** Writes an ecosystem file for n copies of `script` named `${prefix}${from}..`; returns its path. */
function writeEcosystem(dir, n, { prefix = 'app', from = 0, script = path.join(APPS, 'idle.js') } = {}) {
  const apps = Array.from({ length: n }, (_, i) => ({ name: `${prefix}${from + i}`, script }));
  const file = path.join(dir, 'ecosystem.config.js');
  fs.writeFileSync(file, `module.exports = ${JSON.stringify({ apps }, null, 2)};\n`);
  return file;
}

class Fleets {
  constructor(lab, { settleMs = 2000, log = () => {} } = {}) {
    this.lab = lab;
    this.settleMs = settleMs;
    this.log = log;
    this.cache = new Map(); // `${tool}:${n}` -> Promise<fleet>
    this.spare = new Set(); // keys of fleets no scenario needs at their size, kept to grow later
    this.homes = new Set(); // homes of fleets that exist (the runner leaves them alone between scenarios)
  }

  /** The fleet of `n` idle apps under `tool`: cached, grown from a smaller spare one, or new. */
  get(tool, n) {
    const key = `${tool.name}:${n}`;
    if (!this.cache.has(key)) {
      const spareKey = [...this.spare].find((k) => k.startsWith(`${tool.name}:`) && Number(k.split(':')[1]) < n);
      let p;
      if (spareKey) {
        const base = this.cache.get(spareKey);
        this.spare.delete(spareKey);
        this.cache.delete(spareKey);
        p = base.then((f) => this.grow(f, n));
      } else p = this.create(tool, n);
      p.catch(() => this.cache.delete(key));
      this.cache.set(key, p);
    }
    return this.cache.get(key);
  }

  async create(tool, n) {
    const t0 = Date.now();
    const home = this.lab.newHome(tool, 'fleet');
    this.homes.add(home);
    const daemonPid = await tool.ensureDaemon(home);
    const fleet = { tool, n: 0, home, daemonPid, appPids: [] };
    await this.addApps(fleet, n);
    this.log(`  fleet: ${tool.name} with ${n} apps ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return fleet;
  }

  async grow(fleet, n) {
    const t0 = Date.now();
    const from = fleet.n;
    await this.addApps(fleet, n);
    this.log(`  fleet: ${fleet.tool.name} grown from ${from} to ${n} apps in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return fleet;
  }

  /** Starts apps idle<fleet.n>..idle<n-1> from one ecosystem file and waits until all n run. */
  async addApps(fleet, n) {
    const { tool, home } = fleet;
    const eco = writeEcosystem(this.lab.dir('eco'), n - fleet.n, { prefix: 'idle', from: fleet.n });
    tool.run(home, ['start', eco], { timeoutMs: 120000 });
    const list = await tool.waitOnline(home, n, 60000);
    await sleep(this.settleMs); // let the node start-ups finish before anyone measures
    fleet.n = n;
    fleet.appPids = list.filter((p) => p.pid > 0).map((p) => p.pid);
  }

  /**
   * After a scenario: keeps the fleets whose size a remaining scenario needs, keeps a smaller one
   * as a spare when a larger size is needed later (it grows instead of starting over), and tears
   * down the rest.
   */
  async releaseExcept(neededSizes) {
    for (const [key, p] of [...this.cache]) {
      const n = Number(key.split(':')[1]);
      if (neededSizes.has(n)) continue;
      if ([...neededSizes].some((m) => m > n)) {
        this.spare.add(key);
        continue;
      }
      this.cache.delete(key);
      this.spare.delete(key);
      try {
        const fleet = await p;
        this.homes.delete(fleet.home);
        await this.lab.teardown(fleet.home);
      } catch {}
    }
  }
}

module.exports = { Fleets, writeEcosystem, APPS };
