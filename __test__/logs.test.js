'use strict';
// Log files (default, custom, per-instance, merged, /dev/null), `pm logs` output, flush, date and
// JSON formats, pid files, and a fast writer whose every line must arrive whole and in order.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, waitFor, lines } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const logs = (f) => path.join(ctx.home, 'logs', f);
const EIGHT_OUT = Array.from({ length: 8 }, (_, i) => `out line ${i + 1}\n`).join('');
const EIGHT_ERR = Array.from({ length: 8 }, (_, i) => `err line ${i + 1}\n`).join('');

/** pm2's `pm2 logs` prefix: `<id>|<name>` padded (or cut) to 10 characters, then ` | `. */
function pm2Prefix(id, name) {
  return `${`${id}|${name}`.padEnd(10).slice(0, 10)} | `;
}

/** Waits until `file` holds exactly `text`. */
async function fileIs(file, text) {
  await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text, {
    message: `${file} to hold ${JSON.stringify(text.slice(0, 60))}...`,
  });
}

test('stdout and stderr land in $PM_HOME/logs/<name>-out.log and -error.log', async () => {
  ctx.ok(['start', 'logger.js', '--name', 'lg']);
  const [lg] = await ctx.online('lg');
  assert.equal(lg.pm2_env.pm_out_log_path, logs('lg-out.log'));
  assert.equal(lg.pm2_env.pm_err_log_path, logs('lg-error.log'));
  await fileIs(logs('lg-out.log'), EIGHT_OUT);
  await fileIs(logs('lg-error.log'), EIGHT_ERR);
});

test('pm logs --lines 3 --nostream prints the last lines with pm2\'s prefix', () => {
  const r = ctx.pm(['logs', 'lg', '--lines', '3', '--nostream']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = lines(r.stdout);
  assert.equal(out[0], '[TAILING] Tailing last 3 lines for [lg] process (change the value with --lines option)');
  const p = pm2Prefix(0, 'lg');
  assert.equal(p, '0|lg       | ');
  const outBlock = [`${logs('lg-out.log')} last 3 lines:`, `${p}out line 6`, `${p}out line 7`, `${p}out line 8`, ''].join('\n');
  const errBlock = [`${logs('lg-error.log')} last 3 lines:`, `${p}err line 6`, `${p}err line 7`, `${p}err line 8`, ''].join('\n');
  assert.ok(r.stdout.includes(outBlock), `expected:\n${outBlock}\nin:\n${r.stdout}`);
  assert.ok(r.stdout.includes(errBlock), `expected:\n${errBlock}\nin:\n${r.stdout}`);
  assert.equal(out.length, 1 + 2 * 5);
});

test('pm logs: --raw, --out, --err', () => {
  const raw = ctx.pm(['logs', 'lg', '--lines', '2', '--nostream', '--raw']);
  assert.equal(raw.status, 0);
  assert.ok(raw.stdout.includes(`${logs('lg-out.log')} last 2 lines:\nout line 7\nout line 8\n`), raw.stdout);
  assert.equal(raw.stderr, 'err line 7\nerr line 8\n');

  const o = ctx.pm(['logs', 'lg', '--lines', '2', '--nostream', '--out']);
  assert.equal(o.status, 0);
  assert.match(o.stdout, /\| out line 7\n.*\| out line 8\n/);
  assert.equal(o.stdout.includes('lg-error.log'), false);
  assert.equal(o.stdout.includes('err line'), false);

  const e = ctx.pm(['logs', 'lg', '--lines', '2', '--nostream', '--err']);
  assert.equal(e.status, 0);
  assert.match(e.stdout, /\| err line 7\n.*\| err line 8\n/);
  assert.equal(e.stdout.includes('lg-out.log'), false);
  assert.equal(e.stdout.includes('out line'), false);
});

test('pm logs by id, and a long name cut to pm2\'s 10-character prefix', async () => {
  const byId = ctx.pm(['logs', '0', '--lines', '1', '--nostream']);
  assert.ok(byId.stdout.startsWith('[TAILING] Tailing last 1 lines for [0] process'), byId.stdout);
  assert.ok(byId.stdout.includes(`${pm2Prefix(0, 'lg')}out line 8\n`), byId.stdout);

  ctx.ok(['start', 'logger.js', '--name', 'averyverylongname']);
  const [long] = await ctx.online('averyverylongname');
  try {
    await fileIs(long.pm2_env.pm_out_log_path, EIGHT_OUT);
    const l = ctx.pm(['logs', 'averyverylongname', '--lines', '1', '--nostream', '--out']);
    assert.equal(pm2Prefix(long.pm_id, 'averyverylongname'), '1|averyver | ');
    assert.ok(l.stdout.includes(`\n${pm2Prefix(long.pm_id, 'averyverylongname')}out line 8\n`), l.stdout);
  } finally {
    ctx.ok(['delete', 'averyverylongname']);
  }
});

test('flush empties the files; later output starts at offset 0', async () => {
  const r = ctx.pm(['flush', 'lg']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes('[PM2] Logs flushed'), r.stdout);
  assert.equal(fs.statSync(logs('lg-out.log')).size, 0);
  assert.equal(fs.statSync(logs('lg-error.log')).size, 0);
  ctx.ok(['restart', 'lg']);
  await fileIs(logs('lg-out.log'), EIGHT_OUT);
  await fileIs(logs('lg-error.log'), EIGHT_ERR);
  ctx.ok(['delete', 'lg']);
});

test('-o/-e with -i 2: one file per instance, suffixed with the pm_id, next to the cwd', async () => {
  ctx.ok(['start', 'logger.js', '--name', 'lo', '-i', '2', '-o', 'out.log', '-e', 'err.log']);
  const lo = await ctx.online('lo', { count: 2 });
  for (const p of lo) {
    const out = path.join(ctx.apps, `out-${p.pm_id}.log`);
    const err = path.join(ctx.apps, `err-${p.pm_id}.log`);
    assert.equal(p.pm2_env.pm_out_log_path, out);
    assert.equal(p.pm2_env.pm_err_log_path, err);
    await fileIs(out, EIGHT_OUT);
    await fileIs(err, EIGHT_ERR);
  }
  assert.equal(fs.existsSync(path.join(ctx.apps, 'out.log')), false);
  assert.equal(fs.existsSync(logs('lo-out.log')), false);
  ctx.ok(['delete', 'lo']);
});

test('--merge-logs with -i 2: both instances in one file, every line whole', async () => {
  ctx.ok(['start', 'logger.js', '--name', 'lm', '-i', '2', '--merge-logs']);
  const lm = await ctx.online('lm', { count: 2 });
  for (const p of lm) assert.equal(p.pm2_env.pm_out_log_path, logs('lm-out.log'));
  await waitFor(() => lines(fs.readFileSync(logs('lm-out.log'), 'utf8')).length === 16, { message: '16 merged lines' });
  const got = lines(fs.readFileSync(logs('lm-out.log'), 'utf8')).sort();
  const want = lines(EIGHT_OUT + EIGHT_OUT).sort();
  assert.deepEqual(got, want);
  for (const p of lm) assert.equal(fs.existsSync(logs(`lm-out-${p.pm_id}.log`)), false);
  ctx.ok(['delete', 'lm']);
});

test('-p app.pid writes app-<id>.pid, removed on stop', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'lp', '-p', 'app.pid']);
  const [lp] = await ctx.online('lp');
  const pidFile = path.join(ctx.apps, `app-${lp.pm_id}.pid`);
  assert.equal(lp.pm2_env.pm_pid_path, pidFile);
  assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(lp.pid));
  ctx.ok(['stop', 'lp']);
  assert.equal(fs.existsSync(pidFile), false);
  ctx.ok(['delete', 'lp']);
});

test('a log path whose folders do not exist gets them created', async () => {
  ctx.ok(['start', 'logger.js', '--name', 'ln', '-o', 'nested/missing/o.log', '-e', 'nested/other/e.log']);
  const [ln] = await ctx.online('ln');
  const o = path.join(ctx.apps, 'nested', 'missing', 'o.log');
  assert.equal(ln.pm2_env.pm_out_log_path, o);
  await fileIs(o, EIGHT_OUT);
  await fileIs(path.join(ctx.apps, 'nested', 'other', 'e.log'), EIGHT_ERR);
  ctx.ok(['delete', 'ln']);
});

test('-o /dev/null writes no out file', async () => {
  ctx.ok(['start', 'logger.js', '--name', 'dn', '-o', '/dev/null']);
  const [dn] = await ctx.online('dn');
  assert.equal(dn.pm2_env.pm_out_log_path, '/dev/null');
  await fileIs(logs('dn-error.log'), EIGHT_ERR);
  assert.equal(fs.existsSync(logs('dn-out.log')), false);
  assert.ok(fs.statSync('/dev/null').isCharacterDevice(), '/dev/null untouched');
  ctx.ok(['delete', 'dn']);
});

test('--time prefixes each line with a timestamp', async () => {
  ctx.ok(['start', 'logger.js', '--name', 'lt', '--time']);
  await ctx.online('lt');
  await waitFor(() => lines(fs.readFileSync(logs('lt-out.log'), 'utf8')).length === 8, { message: '8 lines' });
  const got = lines(fs.readFileSync(logs('lt-out.log'), 'utf8'));
  got.forEach((l, i) => assert.match(l, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d: out line ${i + 1}$`)));
  ctx.ok(['delete', 'lt']);
});

test('--log-type json writes pm2\'s JSON lines', async (t) => {
  const t0 = Date.now();
  ctx.ok(['start', 'logger.js', '--name', 'lj', '--log-type', 'json']);
  t.after(() => ctx.pm(['delete', 'lj']));
  const [lj] = await ctx.online('lj');
  await waitFor(() => lines(fs.readFileSync(logs('lj-out.log'), 'utf8')).length === 8, { message: '8 json lines' });
  const got = lines(fs.readFileSync(logs('lj-out.log'), 'utf8')).map((l) => JSON.parse(l));
  got.forEach((o, i) => {
    assert.deepEqual(Object.keys(o), ['message', 'timestamp', 'type', 'process_id', 'app_name']);
    assert.equal(o.message, `out line ${i + 1}\n`);
    assert.equal(o.type, 'out');
    assert.equal(o.process_id, lj.pm_id);
    assert.equal(o.app_name, 'lj');
    // pm2 writes new Date().toISOString()
    assert.match(o.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const t = Date.parse(o.timestamp);
    assert.ok(t >= t0 - 1000 && t <= Date.now() + 1000, `timestamp ${o.timestamp} is now`);
  });
  const err = lines(fs.readFileSync(logs('lj-error.log'), 'utf8')).map((l) => JSON.parse(l));
  assert.deepEqual(err.map((o) => [o.type, o.message]), lines(EIGHT_ERR).map((l) => ['err', `${l}\n`]));
});

// 200k lines of varying length, written in chunks cut at arbitrary points, as fast as possible.
const N = 200000;
const lineFor = (i) => `${i} ${'abcdefghij'.repeat(20).slice(0, (i * 7919) % 151)}`;
const WRITER = `
const N = ${N};
const lineFor = ${lineFor.toString()};
let buf = '';
for (let i = 0; i < N; i++) buf += lineFor(i) + '\\n';
let pos = 0;
let seed = 7;
while (pos < buf.length) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  const n = 1 + (seed % 9000);
  process.stdout.write(buf.slice(pos, pos + n));
  pos += n;
}
`;

test('a fast writer: 200k lines arrive exactly, in order, none split', { timeout: 60000 }, async () => {
  ctx.write('writer.js', WRITER);
  // Over the default 10M the built-in rotation would split the file (logrotate.test.js checks
  // that nothing is lost there); this test is about the pipe to one file.
  ctx.ok(['set', 'pm2-logrotate:max_size', '1G']);
  const expected = Array.from({ length: N }, (_, i) => `${lineFor(i)}\n`).join('');
  ctx.ok(['start', 'writer.js', '--name', 'fw', '--no-autorestart']);
  ctx.ok(['start', 'writer.js', '--name', 'fwt', '--no-autorestart', '--time', '-f']);
  await waitFor(
    () => ctx.jlist().filter((p) => p.name.startsWith('fw') && p.pm2_env.status === 'stopped').length === 2,
    { timeout: 30000, message: 'both writers done' },
  );

  const plain = logs('fw-out.log');
  await waitFor(() => fs.statSync(plain).size >= expected.length, { timeout: 30000, message: 'all bytes of fw' });
  const got = fs.readFileSync(plain, 'utf8');
  assert.equal(got.length, expected.length);
  assert.ok(got === expected, 'fw-out.log is byte for byte what the app wrote');

  const timed = logs('fwt-out.log');
  await waitFor(() => lines(fs.readFileSync(timed, 'utf8')).length >= N, { timeout: 30000, message: 'all lines of fwt' });
  const tl = lines(fs.readFileSync(timed, 'utf8'));
  assert.equal(tl.length, N);
  const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: /;
  for (let i = 0; i < N; i++) {
    const l = tl[i];
    if (!stamp.test(l) || l.replace(stamp, '') !== lineFor(i)) {
      assert.fail(`line ${i} is ${JSON.stringify(l)}, expected <date>: ${JSON.stringify(lineFor(i))}`);
    }
  }
});

test('app names are made safe for file names, as pm2 does', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'my_app x']);
  const [a] = await ctx.online('my_app x');
  try {
    assert.equal(a.pm2_env.pm_out_log_path, logs('my-app-x-out.log'));
    assert.equal(a.pm2_env.pm_err_log_path, logs('my-app-x-error.log'));
    assert.equal(a.pm2_env.pm_pid_path, path.join(ctx.home, 'pids', `my-app-x-${a.pm_id}.pid`));
  } finally {
    ctx.pm(['delete', 'my_app x']);
  }
});

test('an app name cannot make log or pid files escape their folders', async () => {
  ctx.ok(['start', 'idle.js', '--name', '../escape']);
  const [b] = await ctx.online('../escape');
  try {
    assert.equal(fs.existsSync(path.join(ctx.home, 'escape-out.log')), false, 'log written outside logs/');
    assert.equal(fs.existsSync(path.join(ctx.home, `escape-${b.pm_id}.pid`)), false, 'pid file written outside pids/');
    assert.equal(path.dirname(b.pm2_env.pm_out_log_path), path.join(ctx.home, 'logs'));
    assert.equal(path.dirname(b.pm2_env.pm_err_log_path), path.join(ctx.home, 'logs'));
    assert.equal(path.dirname(b.pm2_env.pm_pid_path), path.join(ctx.home, 'pids'));
    assert.equal(b.pm2_env.pm_out_log_path, logs('..-escape-out.log'));
  } finally {
    ctx.pm(['delete', '../escape']);
  }
});

const TICK = `
let n = 0;
setInterval(() => { n++; console.log('tick ' + n); if (n % 2 === 0) console.error('tock ' + n); }, 40);
`;

test('pm logs streams new lines as they are written', async () => {
  ctx.write('tick.js', TICK);
  ctx.ok(['start', 'tick.js', '--name', 'tick']);
  const [tick] = await ctx.online('tick');
  const child = spawn(ctx.bin, ['logs', 'tick', '--lines', '0'], { env: ctx.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await waitFor(() => /\| tick \d+\n[^]*\| tick \d+\n/.test(out), { timeout: 5000, message: 'two streamed tick lines' });
    await waitFor(() => /\| tock \d+\n/.test(out), { timeout: 5000, message: 'a streamed stderr line' });
    // pm2 pads the live prefix to the name's length + 1: "0|tick  | tick 3"
    const streamed = lines(out).filter((l) => / tick \d+$/.test(l));
    for (const l of streamed) assert.match(l, new RegExp(`^${tick.pm_id}\\|tick  \\| tick \\d+$`));
  } finally {
    child.kill('SIGKILL');
  }
});

test('reloadLogs reopens files moved away by a rotation', async () => {
  const out = logs('tick-out.log');
  await waitFor(() => fs.existsSync(out) && fs.statSync(out).size > 0, { message: 'tick writing' });
  fs.renameSync(out, `${out}.1`);
  const r = ctx.pm(['reloadLogs']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Reloading all logs...\nAll logs reloaded\n');
  await waitFor(() => fs.existsSync(out) && /^tick \d+\n/.test(fs.readFileSync(out, 'utf8')), { message: 'new tick-out.log' });
  const rotatedSize = fs.statSync(`${out}.1`).size;
  await waitFor(() => lines(fs.readFileSync(out, 'utf8')).length >= 3, { message: 'more ticks' });
  assert.equal(fs.statSync(`${out}.1`).size, rotatedSize, 'the rotated file no longer grows');
});

test('flush with no target empties every app log and the daemon log', async () => {
  const r = ctx.pm(['flush']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith(`[PM2] Flushing ${path.join(ctx.home, 'pm.log')}\n`), r.stdout);
  assert.ok(r.stdout.includes(`[PM2] ${logs('tick-out.log')}\n`), r.stdout);
  assert.ok(r.stdout.endsWith('[PM2] Logs flushed\n'), r.stdout);
  assert.equal(fs.statSync(path.join(ctx.home, 'pm.log')).size, 0);
  // tick keeps writing; right after the flush its file restarts from a whole line.
  await waitFor(() => fs.statSync(logs('tick-out.log')).size > 0, { message: 'tick writes again' });
  assert.match(fs.readFileSync(logs('tick-out.log'), 'utf8'), /^tick \d+\n/);
  const f = ctx.pm(['flush', 'nosuch']);
  assert.equal(f.status, 0);
  assert.equal(f.stdout, '[PM2] Logs flushed\n');
  ctx.ok(['delete', 'tick']);
});
