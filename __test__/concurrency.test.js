'use strict';
// Racing first commands bring up exactly one daemon, and racing starts each start exactly once.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { makeCtx, isAlive, cmdline, environ } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

/** Every live `pm daemon` process whose environment points at this test's PM_HOME. */
function daemonsOfThisHome() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    const argv = cmdline(pid);
    if (argv.length === 2 && argv[1] === 'daemon' && /(^|\/)pm$/.test(argv[0]) && environ(pid).PM_HOME === ctx.home && isAlive(pid)) {
      out.push(pid);
    }
  }
  return out;
}

const names = (prefix) => Array.from({ length: 10 }, (_, i) => `${prefix}${i}`);

test('10 parallel starts with no daemon running: one daemon, 10 apps, each once', async () => {
  assert.equal(fs.existsSync(`${ctx.home}/pm.pid`), false, 'no daemon yet');
  assert.deepEqual(daemonsOfThisHome(), []);
  const results = await Promise.all(names('a').map((n) => ctx.pmAsync(['start', 'idle.js', '--name', n])));
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 0, `start a${i}: ${r.stderr}`);
    assert.equal(r.stderr, '');
  }
  for (const n of names('a')) await ctx.online(n);
  const list = ctx.jlist();
  assert.deepEqual(list.map((p) => p.name).sort(), names('a').sort());
  assert.deepEqual(list.map((p) => p.pm_id).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(new Set(list.map((p) => p.pid)).size, 10, 'ten distinct processes');

  const daemons = daemonsOfThisHome();
  assert.equal(daemons.length, 1, `daemons: ${daemons}`);
  assert.equal(daemons[0], ctx.daemonPid());
});

test('10 parallel starts against a running daemon: same daemon, 20 apps', async () => {
  const daemon = ctx.daemonPid();
  const results = await Promise.all(names('b').map((n) => ctx.pmAsync(['start', 'idle.js', '--name', n])));
  for (const [i, r] of results.entries()) assert.equal(r.status, 0, `start b${i}: ${r.stderr}`);
  for (const n of names('b')) await ctx.online(n);
  const list = ctx.jlist();
  assert.equal(list.length, 20);
  assert.deepEqual(list.map((p) => p.name).sort(), [...names('a'), ...names('b')].sort());
  assert.deepEqual(list.map((p) => p.pm_id), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(daemonsOfThisHome(), [daemon]);
});

test('10 parallel starts of the same script and name: exactly one wins', async () => {
  const results = await Promise.all(Array.from({ length: 10 }, () => ctx.pmAsync(['start', 'idle.js', '--name', 'same'])));
  const ok = results.filter((r) => r.status === 0);
  const refused = results.filter((r) => r.status === 1);
  assert.equal(ok.length, 1, results.map((r) => r.stderr).join(''));
  assert.equal(refused.length, 9);
  for (const r of refused) {
    assert.equal(r.stderr, '[PM2][ERROR] Script already launched, add -f option to force re-execution\n');
  }
  await ctx.online('same');
  assert.equal(ctx.procs('same').length, 1);
});

test('parallel stop, restart and jlist calls all succeed and agree at the end', async () => {
  const ops = [
    ...names('a').map((n) => ctx.pmAsync(['stop', n])),
    ...names('b').map((n) => ctx.pmAsync(['restart', n])),
    ...Array.from({ length: 10 }, () => ctx.pmAsync(['jlist'])),
  ];
  const results = await Promise.all(ops);
  for (const r of results) assert.equal(r.status, 0, r.stderr);
  for (const r of results.slice(20)) assert.equal(JSON.parse(r.stdout).length, 21);
  const list = ctx.jlist();
  for (const p of list) {
    if (p.name.startsWith('a')) assert.deepEqual([p.name, p.pm2_env.status, p.pid], [p.name, 'stopped', 0]);
    if (p.name.startsWith('b')) {
      assert.equal(p.pm2_env.status, 'online', p.name);
      assert.equal(p.pm2_env.restart_time, 1, p.name);
    }
  }
});

// 50 clients at once, twice: into a home with no daemon, then against the running daemon.
const c50 = makeCtx();
after(() => c50.cleanup());

function daemonsOf(home) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    const argv = cmdline(pid);
    if (argv.length === 2 && argv[1] === 'daemon' && /(^|\/)pm$/.test(argv[0]) && environ(pid).PM_HOME === home && isAlive(pid)) out.push(pid);
  }
  return out;
}

const twenty = (prefix) => Array.from({ length: 20 }, (_, i) => `${prefix}${i}`);

test('50 clients with no daemon running (20 starts, 30 jlists): one daemon, 20 apps, each once, no error', { timeout: 240000 }, async () => {
  assert.deepEqual(daemonsOf(c50.home), []);
  const ops = [
    ...twenty('w').map((n) => c50.pmAsync(['start', 'idle.js', '--name', n], { timeout: 120000 })),
    ...Array.from({ length: 30 }, () => c50.pmAsync(['jlist'], { timeout: 120000 })),
  ];
  const results = await Promise.all(ops);
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 0, `client ${i}: ${r.stderr}`);
    assert.equal(r.stderr, '', `client ${i}`);
  }
  for (const r of results.slice(20)) assert.ok(Array.isArray(JSON.parse(r.stdout)));
  for (const n of twenty('w')) await c50.online(n, { timeout: 60000 });
  const list = c50.jlist();
  assert.deepEqual(list.map((p) => p.name).sort(), twenty('w').sort());
  assert.equal(new Set(list.map((p) => p.pm_id)).size, 20);
  assert.equal(new Set(list.map((p) => p.pid)).size, 20);
  assert.deepEqual(daemonsOf(c50.home), [c50.daemonPid()]);
});

test('50 clients against the running daemon (stop, restart, start, jlist on 20 + 20 apps): each once, no error, no deadlock', { timeout: 240000 }, async () => {
  const daemon = c50.daemonPid();
  const names = twenty('w');
  const ops = [
    ...names.slice(0, 10).map((n) => c50.pmAsync(['stop', n], { timeout: 120000 })),
    ...names.slice(10).map((n) => c50.pmAsync(['restart', n], { timeout: 120000 })),
    ...twenty('x').map((n) => c50.pmAsync(['start', 'idle.js', '--name', n], { timeout: 120000 })),
    ...Array.from({ length: 10 }, () => c50.pmAsync(['jlist'], { timeout: 120000 })),
  ];
  assert.equal(ops.length, 60 - 10, 'fifty clients');
  const results = await Promise.all(ops);
  for (const [i, r] of results.entries()) assert.equal(r.status, 0, `client ${i}: ${r.stderr}`);
  for (const n of twenty('x')) await c50.online(n, { timeout: 60000 });
  const list = c50.jlist();
  assert.equal(list.length, 40);
  assert.equal(new Set(list.map((p) => p.name)).size, 40, 'every app exactly once');
  for (const p of list) {
    const i = names.indexOf(p.name);
    if (i >= 0 && i < 10) assert.equal(p.pm2_env.status, 'stopped', p.name);
    else {
      assert.equal(p.pm2_env.status, 'online', p.name);
      if (i >= 10) assert.equal(p.pm2_env.restart_time, 1, p.name);
    }
  }
  assert.deepEqual(daemonsOf(c50.home), [daemon]);
});
