'use strict';
// pm save / pm resurrect: the process list survives a daemon restart through dump.pm2.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

test('save with no apps writes nothing and exits 0', () => {
  const r = ctx.pm(['save']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.existsSync(path.join(ctx.home, 'dump.pm2')), false);
});

test('save, kill, resurrect brings every app back with its env and instance count', async () => {
  ctx.write('idle.js', 'setInterval(() => {}, 1000);\n');
  ctx.ok(['start', 'idle.js', '--name', 'one'], { env: { SAVED_VAR: 'kept' } });
  ctx.ok(['start', 'idle.js', '--name', 'many', '-i', '2', '--namespace', 'grp']);
  await ctx.online('one');
  await ctx.online('many', { count: 2 });
  const r = ctx.pm(['save']);
  assert.equal(r.status, 0, r.stderr);
  const dump = JSON.parse(fs.readFileSync(path.join(ctx.home, 'dump.pm2'), 'utf8'));
  assert.equal(dump.length, 2, 'one record per app');
  ctx.ok(['kill']);
  await waitFor(() => !fs.existsSync(path.join(ctx.home, 'rpc.sock')), { message: 'daemon gone' });
  ctx.ok(['resurrect']);
  const [one] = await ctx.online('one');
  const many = await ctx.online('many', { count: 2 });
  assert.equal(one.pm2_env.env.SAVED_VAR, 'kept');
  assert.deepEqual(many.map((p) => p.pm2_env.namespace), ['grp', 'grp']);
});

test('resurrect without a dump fails with one line', () => {
  fs.rmSync(path.join(ctx.home, 'dump.pm2'), { force: true });
  const r = ctx.pm(['resurrect']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /run pm save first/);
});
