'use strict';
// The built-in log rotation: pm2-logrotate's settings through `pm set` / `pm get` / `pm conf` /
// `pm unset` / `pm install`, and rotation itself on a real daemon writing real files: nothing
// lost, split or doubled, retention, gzip, a new inode at the path, SIGUSR2 after an external
// `mv`, and the daemon's own pm.log.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { makeCtx, waitFor, lines } = require('./helpers');

/** Writes `line <n>` for n = 1..N as fast as stdout takes them, then `END`, then idles. */
const BURST = `
const N = Number(process.env.N);
let i = 1;
function more() {
  while (i <= N) {
    let chunk = '';
    for (let k = 0; k < 200 && i <= N; k++, i++) chunk += 'line ' + i + '\\n';
    if (!process.stdout.write(chunk)) return process.stdout.once('drain', more);
  }
  process.stdout.write('END\\n');
}
more();
setInterval(() => {}, 1000);
`;

/** A line every 20 ms, numbered, forever. */
const TICKER = `let i = 0; setInterval(() => console.log('tick ' + ++i), 20);`;

const ctxs = [];
function ctx() {
  const c = makeCtx();
  c.write('burst.js', BURST);
  c.write('ticker.js', TICKER);
  ctxs.push(c);
  return c;
}
after(() => ctxs.forEach((c) => c.cleanup()));

const confFile = (c) => path.join(c.home, 'module_conf.json');
/** The rotated files of `<logs>/<stem>.log`, as the rotation names them. */
const rotated = (dir, stem) =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith(`${stem}__`)).map((f) => path.join(dir, f)) : [];
const read = (f) => (f.endsWith('.gz') ? zlib.gunzipSync(fs.readFileSync(f)).toString() : fs.readFileSync(f, 'utf8'));
/**
 * Whether the burst's `END` has been written: the write carrying it may itself cross
 * `max_size`, and then `END` is in the newest rotated file and the current one is empty.
 */
const endWritten = (out, stem) =>
  [out, ...rotated(path.dirname(out), stem)].some((f) => {
    try {
      return read(f).endsWith('END\n');
    } catch {
      return false; // renamed or pruned between the listing and the read
    }
  });

test('pm set / get / conf / unset: pm2\'s lines, values checked before anything is written', () => {
  const c = ctx();
  assert.deepEqual(c.ok(['get']).stdout, '');

  for (const [key, value] of [
    ['max_size', '10m'],
    ['max_size', 'lots'],
    ['retain', 'many'],
    ['compress', 'yes'],
    ['rotateInterval', '* * *'],
    ['TZ', 'Mars/Olympus'],
    ['workerInterval', '0'],
  ]) {
    const r = c.pm(['set', `pm2-logrotate:${key}`, value]);
    assert.equal(r.status, 1, `${key} ${value}: ${r.stdout}`);
    assert.equal(r.stdout, '');
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^\\[PM2\\]\\[ERROR\\] .*pm2-logrotate:${key} = `));
    assert.ok(!fs.existsSync(confFile(c)), `nothing written for ${key} ${value}`);
  }

  let r = c.ok(['set', 'pm2-logrotate:max_size', '100K']);
  assert.equal(r.stdout, '[PM2] Setting changed\nModule: pm2-logrotate\n$ pm set pm2-logrotate:max_size 100K\n');
  r = c.ok(['conf', 'pm2-logrotate:retain', '3']);
  assert.equal(
    r.stdout,
    '[PM2] Setting changed\nModule: pm2-logrotate\n$ pm set pm2-logrotate:max_size 100K\n$ pm set pm2-logrotate:retain 3\n',
  );
  assert.equal(
    fs.readFileSync(confFile(c), 'utf8'),
    '{\n    "pm2-logrotate": {\n        "max_size": "100K",\n        "retain": "3"\n    }\n}',
  );
  assert.equal(c.ok(['get', 'pm2-logrotate:max_size']).stdout, 'Value for module pm2-logrotate key max_size: 100K\n');
  assert.equal(c.ok(['conf', 'pm2-logrotate.retain']).stdout, 'Value for module pm2-logrotate key retain: 3\n');
  assert.equal(
    c.ok(['get', 'pm2-logrotate']).stdout,
    'Module: pm2-logrotate\n$ pm set pm2-logrotate:max_size 100K\n$ pm set pm2-logrotate:retain 3\n' +
      'Modules configuration. Copy/Paste line to edit values.\n',
  );
  const all = 'Module: pm2-logrotate\n$ pm set pm2-logrotate:max_size 100K\n$ pm set pm2-logrotate:retain 3\n';
  assert.equal(c.ok(['get']).stdout, all);
  assert.equal(c.ok(['conf']).stdout, all);

  r = c.pm(['get', 'pm2-logrotate:compress']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, '[PM2][ERROR] pm2-logrotate:compress is not set (the built-in rotation uses false)\n');

  r = c.ok(['set', 'pm2-logrotate:max_sise', '1M']);
  assert.match(r.stdout, /^\[PM2\]\[WARN\] pm2-logrotate:max_sise is stored but not read by the built-in rotation/);

  r = c.ok(['unset', 'pm2-logrotate:max_sise']);
  assert.equal(r.stdout, all);
  r = c.ok(['unset', 'pm2-logrotate:retain']);
  assert.equal(r.stdout, 'Module: pm2-logrotate\n$ pm set pm2-logrotate:max_size 100K\n');
  assert.ok(!c.daemonPid(), 'settings verbs start no daemon');
});

test('pm install pm2-logrotate: built in, one line, its defaults in module_conf.json; other modules refused', () => {
  const c = ctx();
  c.ok(['set', 'pm2-logrotate:max_size', '1M']);
  let r = c.ok(['install', 'pm2-logrotate']);
  assert.equal(lines(r.stdout).length, 1, r.stdout);
  assert.match(r.stdout, /^\[PM2\]\[Module\] pm2-logrotate is built into pm-native: nothing to download/);
  assert.equal(r.stderr, '');
  const conf = JSON.parse(fs.readFileSync(confFile(c), 'utf8'));
  assert.deepEqual(conf['pm2-logrotate'], {
    max_size: '1M', // kept, as pm2's setSyncIfNotExist keeps it
    retain: '30',
    compress: false,
    dateFormat: 'YYYY-MM-DD_HH-mm-ss',
    workerInterval: '30',
    rotateInterval: '0 0 * * *',
    rotateModule: true,
  });
  assert.match(c.ok(['get']).stdout, /\$ pm set pm2-logrotate:compress false\n/);
  assert.equal(c.ok(['install', 'pm2-logrotate@3.0.0']).status, 0);

  r = c.pm(['install', 'pm2-server-monit']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(lines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /^\[PM2\]\[ERROR\] modules are not supported by pm-native/);
});

test('100K max_size under a fast writer: many rotations, every line exactly once and whole, a new inode each time', async (t) => {
  const c = ctx();
  c.ok(['set', 'pm2-logrotate:max_size', '100K']);
  c.ok(['set', 'pm2-logrotate:retain', 'all']);
  const N = 100000; // about 1.3 MB of lines
  const out = path.join(c.home, 'logs', 'burst-out.log');
  c.ok(['start', 'burst.js', '--name', 'burst'], { env: { N: String(N) } });
  await c.online('burst');
  const firstInode = await waitFor(() => fs.existsSync(out) && fs.statSync(out).ino, { message: 'the out log' });
  await waitFor(() => endWritten(out, 'burst-out'), { timeout: 30000, message: 'END in the out logs' });
  const files = rotated(path.dirname(out), 'burst-out');
  assert.ok(files.length >= 5, `rotations: ${files.length}`);
  t.diagnostic(`${files.length} rotations of ${N} lines`);
  assert.notEqual(fs.statSync(out).ino, firstInode, 'the path is a new file after rotation');
  const seen = new Uint8Array(N + 1);
  for (const f of [...files, out]) {
    const text = read(f);
    if (f === out && text === '') continue; // END's write was the one that rotated
    assert.ok(text.endsWith('\n'), `${f} ends with a whole line`);
    assert.ok(fs.statSync(f).size <= 164 * 1024, `${f}: ${fs.statSync(f).size} bytes`);
    for (const l of lines(text)) {
      if (l === 'END') continue;
      const m = /^line (\d+)$/.exec(l);
      assert.ok(m, `a whole line in ${f}: ${JSON.stringify(l)}`);
      seen[Number(m[1])]++;
    }
  }
  const wrong = [];
  for (let n = 1; n <= N; n++) if (seen[n] !== 1) wrong.push(`${n}×${seen[n]}`);
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} lines not seen exactly once`);
});

test('retain 3 with compress true: at most 3 rotated files, each a .gz of whole lines', async () => {
  const c = ctx();
  c.ok(['set', 'pm2-logrotate:max_size', '100K']);
  c.ok(['set', 'pm2-logrotate:retain', '3']);
  c.ok(['set', 'pm2-logrotate:compress', 'true']);
  const out = path.join(c.home, 'logs', 'burst-out.log');
  c.ok(['start', 'burst.js', '--name', 'burst'], { env: { N: '80000' } });
  await c.online('burst');
  await waitFor(() => endWritten(out, 'burst-out'), { timeout: 30000, message: 'END in the out logs' });
  // Compression and pruning run after each rotation, off the write path: poll for them.
  const files = await waitFor(
    () => {
      const f = rotated(path.dirname(out), 'burst-out');
      return f.length === 3 && f.every((x) => x.endsWith('.log.gz')) && f;
    },
    { message: 'three .gz files' },
  );
  let last = 0;
  let endRotated = false;
  for (const f of files.sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)) {
    const l = lines(read(f));
    if (l[l.length - 1] === 'END') {
      assert.equal(f, files[files.length - 1], 'END only in the newest rotated file');
      endRotated = true;
      l.pop();
    }
    assert.ok(l.length > 1000, `${f}: ${l.length} lines`);
    for (const x of l) assert.match(x, /^line \d+$/, f);
    const first = Number(l[0].slice(5));
    assert.ok(first > last, 'the newest three, in order');
    last = Number(l[l.length - 1].slice(5));
  }
  const cur = lines(fs.readFileSync(out, 'utf8'));
  if (endRotated) assert.deepEqual(cur, [], 'nothing after END');
  else assert.equal(Number(cur[0].slice(5)), last + 1, 'the current file follows the newest rotated one');
});

test('SIGUSR2 after an external mv: the daemon writes to a new file at the path; pm reloadLogs too', async () => {
  const c = ctx();
  const out = path.join(c.home, 'logs', 'ticker-out.log');
  c.ok(['start', 'ticker.js', '--name', 'ticker']);
  await c.online('ticker');
  await waitFor(() => fs.existsSync(out) && fs.statSync(out).size > 0, { message: 'ticks' });
  for (const how of ['SIGUSR2', 'reloadLogs']) {
    const moved = `${out}.${how}`;
    fs.renameSync(out, moved);
    const grew = fs.statSync(moved).size;
    await waitFor(() => fs.statSync(moved).size > grew, { message: 'the moved file still written before the reopen' });
    if (how === 'SIGUSR2') process.kill(c.daemonPid(), 'SIGUSR2');
    else assert.equal(c.ok(['reloadLogs']).stdout, 'Reloading all logs...\nAll logs reloaded\n');
    await waitFor(() => fs.existsSync(out) && /^tick \d+\n/.test(fs.readFileSync(out, 'utf8')), {
      message: `a new ${out} after ${how}`,
    });
    const size = fs.statSync(moved).size;
    await waitFor(() => fs.statSync(out).size > 200, { message: 'the new file growing' });
    assert.equal(fs.statSync(moved).size, size, 'the moved file is no longer written');
    const last = Number(lines(fs.readFileSync(moved, 'utf8')).pop().slice(5));
    assert.equal(Number(fs.readFileSync(out, 'utf8').split('\n')[0].slice(5)), last + 1, 'no tick lost');
  }
});

test('pm.log is rotated past max_size on the workerInterval tick, and the daemon goes on in a new pm.log', async () => {
  const c = ctx();
  c.ok(['set', 'pm2-logrotate:max_size', '10K']);
  c.ok(['set', 'pm2-logrotate:workerInterval', '1']);
  c.ok(['ping']);
  const log = path.join(c.home, 'pm.log');
  const ino = fs.statSync(log).ino;
  // The daemon's descriptor is O_APPEND, so another writer's lines land in the same file.
  fs.appendFileSync(log, 'filler line\n'.repeat(1000));
  const done = await waitFor(() => rotated(c.home, 'pm').length === 1 && rotated(c.home, 'pm'), {
    timeout: 5000,
    message: 'a rotated pm.log',
  });
  assert.match(fs.readFileSync(done[0], 'utf8'), /pm-native daemon .* started[^]*filler line\n$/);
  assert.notEqual(fs.statSync(log).ino, ino);
  c.ok(['kill']);
  assert.match(fs.readFileSync(log, 'utf8'), /pm-native daemon stopped/);
  assert.doesNotMatch(fs.readFileSync(done[0], 'utf8'), /stopped/);
});

test('per-app settings in the ecosystem file override the global ones for that app only; bad ones refuse the start', async () => {
  const c = ctx();
  const eco = c.write(
    'eco.config.js',
    `module.exports = { apps: [
      { name: 'own', script: 'burst.js', env: { N: '40000' }, max_size: '50K', retain: 2, dateFormat: 'YYYY-MM-DD' },
      { name: 'global', script: 'burst.js', env: { N: '40000' } },
    ] };`,
  );
  c.ok(['start', eco]);
  await c.online('own');
  await c.online('global');
  const logs = path.join(c.home, 'logs');
  for (const app of ['own', 'global']) {
    await waitFor(() => endWritten(path.join(logs, `${app}-out.log`), `${app}-out`), {
      timeout: 30000,
      message: `END in ${app}'s out logs`,
    });
  }
  const own = await waitFor(() => rotated(logs, 'own-out').length === 2 && rotated(logs, 'own-out'), {
    message: 'two rotated files of own-out.log',
  });
  const today = /^own-out__\d{4}-\d{2}-\d{2}(_\d+)?\.log$/;
  for (const f of own) assert.match(path.basename(f), today, 'its own dateFormat');
  assert.deepEqual(rotated(logs, 'global-out'), [], 'the other app keeps the global 10M');

  const bad = c.write('bad.config.js', `module.exports = { apps: [{ name: 'bad', script: 'burst.js', max_size: '10m' }] };`);
  const r = c.pm(['start', bad]);
  assert.equal(r.status, 1);
  assert.equal(lines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /app bad: max_size = 10m: units are upper case/);
  assert.deepEqual(c.procs('bad'), []);
});
