'use strict';
// `pm logs` as a long-running reader: following a log across rotations with nothing lost or
// doubled, pm2's `--json` and `--format` streams (new lines only, from the bus), and
// `--highlight`. Real daemon, real rotation, a real `pm logs` process read from its stdout.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { makeCtx, waitFor, BIN } = require('./helpers');

/** A numbered line every 20 ms, forever, on stdout; every tenth one on stderr too. */
const TICKER = `let i = 0; setInterval(() => { console.log('tick ' + ++i); if (i % 10 === 0) console.error('ten ' + i); }, 20);`;

const ctx = makeCtx();
ctx.write('ticker.js', TICKER);
const readers = [];
after(() => {
  for (const r of readers) r.kill('SIGKILL');
  ctx.cleanup();
});

/** `pm logs <args>` running, its stdout collected as lines. */
function reader(args, env = {}) {
  const child = spawn(BIN, ['logs', ...args], {
    env: { ...ctx.env, ...env },
    cwd: ctx.apps,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  readers.push(child);
  const r = { child, lines: [], stderr: '' };
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    r.lines.push(...parts);
  });
  child.stderr.on('data', (d) => (r.stderr += d));
  r.stop = () => {
    child.kill('SIGKILL');
    readers.splice(readers.indexOf(child), 1);
  };
  return r;
}

const rotated = (dir, stem) => fs.readdirSync(dir).filter((f) => f.startsWith(`${stem}__`));

test('a followed log across rotations: every line exactly once, in order, old file drained first', async (t) => {
  ctx.ok(['set', 'pm2-logrotate:max_size', '1K']);
  ctx.ok(['set', 'pm2-logrotate:retain', 'all']);
  ctx.ok(['start', 'ticker.js', '--name', 'rot']);
  await ctx.online('rot');
  const r = reader(['rot', '--raw', '--lines', '0', '--out']);
  const logs = path.join(ctx.home, 'logs');
  // 1 KiB is about 80 lines, 1.6 s of ticks: four rotations while the reader follows.
  await waitFor(() => rotated(logs, 'rot-out').length >= 4 && r.lines.length > 0, {
    timeout: 30000,
    message: 'four rotations',
  });
  const seenRotations = rotated(logs, 'rot-out').length;
  await waitFor(() => rotated(logs, 'rot-out').length >= seenRotations + 1, { timeout: 10000, message: 'one more' });
  const got = r.lines.slice();
  r.stop();
  const nums = got.map((l) => {
    const m = /^tick (\d+)$/.exec(l);
    assert.ok(m, `a whole line: ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
  for (let i = 1; i < nums.length; i++) {
    assert.equal(nums[i], nums[i - 1] + 1, `line after tick ${nums[i - 1]} is tick ${nums[i]} (lost or doubled)`);
  }
  t.diagnostic(`${nums.length} lines followed across ${rotated(logs, 'rot-out').length} rotations`);
  assert.ok(nums.length > 200, `followed ${nums.length} lines`);
  ctx.ok(['delete', 'rot']);
  ctx.ok(['set', 'pm2-logrotate:max_size', '10M']);
});

test("--json: pm2's objects, one per line, new lines and process events only", async () => {
  ctx.ok(['start', 'ticker.js', '--name', 'js']);
  const [p] = await ctx.online('js');
  const out = path.join(ctx.home, 'logs', 'js-out.log');
  await waitFor(() => fs.existsSync(out) && /tick 3\n/.test(fs.readFileSync(out, 'utf8')), { message: 'old lines' });
  const r = reader(['js', '--json']);
  await waitFor(() => r.lines.filter((l) => l.includes('"err"')).length >= 1 && r.lines.length >= 5, {
    timeout: 15000,
    message: 'json lines',
  });
  ctx.ok(['restart', 'js']);
  await waitFor(() => r.lines.some((l) => l.includes('process_event')), { timeout: 15000, message: 'a process event' });
  r.stop();
  const objs = r.lines.map((l) => JSON.parse(l));
  const logs = objs.filter((o) => o.type === 'out' || o.type === 'err');
  assert.ok(logs.length >= 5);
  for (const o of logs) {
    assert.deepEqual(Object.keys(o), ['message', 'timestamp', 'type', 'process_id', 'app_name']);
    assert.equal(o.app_name, 'js');
    assert.equal(o.process_id, p.pm_id);
    assert.match(o.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(o.message, o.type === 'out' ? /^tick \d+$/ : /^ten \d+$/);
  }
  // New lines only: the stream starts after the reader did, so the first tick seen is not 1.
  assert.ok(!logs.some((o) => o.message === 'tick 1'), 'no tail of old lines');
  const ev = objs.find((o) => o.type === 'process_event');
  assert.deepEqual(Object.keys(ev), ['timestamp', 'type', 'status', 'app_name']);
  assert.equal(ev.app_name, 'js');
  assert.ok(['restart', 'exit', 'online', 'stop'].includes(ev.status), ev.status);
  ctx.ok(['delete', 'js']);
});

test('--format: timestamp= app= id= type= message=, --err only the error lines', async () => {
  ctx.ok(['start', 'ticker.js', '--name', 'fm']);
  const [p] = await ctx.online('fm');
  const all = reader(['fm', '--format']);
  const errs = reader(['fm', '--format', '--err']);
  await waitFor(() => all.lines.length >= 12 && errs.lines.length >= 2, { timeout: 15000, message: 'formatted lines' });
  all.stop();
  errs.stop();
  const re = new RegExp(`^timestamp=\\d{4}-\\d\\d-\\d\\d-\\d\\d:\\d\\d:\\d\\d[+-]\\d{4} app=fm id=${p.pm_id} type=(out|error) message=(tick|ten) \\d+$`);
  for (const l of all.lines) assert.match(l, re);
  assert.ok(all.lines.some((l) => / type=out message=tick/.test(l)));
  for (const l of errs.lines) assert.match(l, / type=error message=ten \d+$/);
  ctx.ok(['delete', 'fm']);
});

test('--highlight <value>: the first occurrence marked where chalk would colour, the text untouched otherwise', async () => {
  ctx.ok(['start', 'ticker.js', '--name', 'hl']);
  await ctx.online('hl');
  const plain = reader(['hl', '--lines', '0', '--out', '--highlight', 'tick']);
  const coloured = reader(['hl', '--lines', '0', '--out', '--highlight', 'tick'], { FORCE_COLOR: '1' });
  const body = (r) => r.lines.filter((l) => l.includes(' | '));
  await waitFor(() => body(plain).length >= 3 && body(coloured).length >= 3, { timeout: 15000, message: 'lines' });
  plain.stop();
  coloured.stop();
  for (const l of body(plain)) assert.match(l, /^\d+\|hl\s+\| tick \d+$/);
  for (const l of body(coloured)) assert.match(l, /^\d+\|hl\s+\| \x1b\[100mtick\x1b\[49m \d+$/);
  ctx.ok(['delete', 'hl']);
});

test("the tail's header as pm2 prints it: 'processes' for all, none with --lines 0", () => {
  const all = ctx.ok(['logs', '--nostream', '--lines', '1']);
  assert.equal(all.stdout.split('\n')[0], '[TAILING] Tailing last 1 lines for [all] processes (change the value with --lines option)');
  assert.equal(ctx.ok(['logs', '--nostream', '--lines', '0']).stdout, '');
});
