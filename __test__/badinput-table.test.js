'use strict';
// The bad-input table: every row is something a person (or a script) may really type or write,
// and each must fail the same way: a non-zero exit, exactly one readable line on stderr (no
// stack trace, no Rust panic text), the daemon alive with the same pid, and the app `keeper`,
// started first, untouched (same pid, online, still the only app).
//
// Odd but valid input that pm2 accepts (a name with `../`, quotes or unicode, a numeric name,
// `-i -5`) is accepted here too; the second table checks that it stays harmless.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeCtx, isAlive } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

let keeper;
let daemon;

const eco = (apps) => JSON.stringify({ apps });

before(async () => {
  ctx.ok(['start', 'idle.js', '--name', 'keeper']);
  [keeper] = await ctx.online('keeper');
  daemon = ctx.daemonPid();
  assert.ok(isAlive(daemon));

  ctx.write('syntax.json', '{"apps": [\n  {"name": "x" "script": "idle.js"}\n]}\n');
  ctx.write('syntax.yml', 'apps:\n  - name: x\n   script: [\n');
  ctx.write('syntax.config.js', 'module.exports = {\n  apps: [{ name: "x" script: "idle.js" }]\n};\n');
  ctx.write('throws.config.js', 'throw new Error("no config for you");\n');
  ctx.write('hangs.config.mjs', 'await new Promise(() => setInterval(() => {}, 1000));\nexport default { apps: [] };\n');
  ctx.write('function.config.js', 'module.exports = () => ({ apps: [] });\n');
  ctx.write('noscript.json', eco([{ name: 'y', script: 'nope.js' }]));
  ctx.write('emptyscript.json', eco([{ name: 'y', script: '' }]));
  ctx.write('nofield.json', eco([{ name: 'y' }]));
  ctx.write('appsnumber.json', JSON.stringify({ apps: 5 }));
  ctx.write('appsempty.json', JSON.stringify({ apps: [] }));
  ctx.write('toplevel.json', '42');
  ctx.write('instances-type.json', eco([{ name: 'y', script: 'idle.js', instances: 'many' }]));
  ctx.write('memory-type.json', eco([{ name: 'y', script: 'idle.js', max_memory_restart: {} }]));
  ctx.write('env-type.json', eco([{ name: 'y', script: 'idle.js', env: 'PORT=3000' }]));
  ctx.write('cron-type.json', eco([{ name: 'y', script: 'idle.js', cron_restart: 'every day' }]));
  ctx.write('signal-type.json', eco([{ name: 'y', script: 'idle.js', kill_signal: 'SIGWHAT' }]));
  ctx.write('timeout-type.json', eco([{ name: 'y', script: 'idle.js', kill_timeout: -100 }]));
  ctx.write('nul-name.json', eco([{ name: 'a\u0000b', script: 'idle.js' }]));
  ctx.write('newline-name.json', eco([{ name: 'a\nb', script: 'idle.js' }]));
  ctx.write('all-name.json', eco([{ name: 'all', script: 'idle.js' }]));
  ctx.write('cwd-missing.json', eco([{ name: 'y', script: 'idle.js', cwd: '/nonexistent/dir' }]));
  ctx.write('good.json', eco([{ name: 'y', script: 'idle.js' }]));
  ctx.write('a-file', 'not a folder\n');
  // 50 MB of valid JSON: one app and a huge env value. The CLI refuses it by size before
  // parsing, so neither it nor the daemon holds 50 MB.
  const big = Buffer.alloc(50 * 1024 * 1024, 'x');
  const head = Buffer.from('{"apps":[{"name":"big","script":"idle.js","env":{"X":"');
  const tail = Buffer.from('"}}]}');
  fs.writeFileSync(path.join(ctx.apps, 'huge.json'), Buffer.concat([head, big.subarray(0, big.length - head.length - tail.length), tail]));
});

const long = 'a'.repeat(10 * 1024);

// [label, args, message (regex on the one stderr line), options]
const BAD = [
  // Commands and flags
  ['unknown command', ['foo'], /Command not found/],
  ['unknown flag', ['start', 'idle.js', '--foo-bar'], /--foo-bar/],
  ['flag without its value', ['start', 'idle.js', '--name'], /--name/],
  ['-i abc', ['start', 'idle.js', '-i', 'abc'], /instances.*"abc"/],
  ['-i 99999', ['start', 'idle.js', '-i', '99999'], /instances.*99999/],
  ['-i 1.5', ['start', 'idle.js', '-i', '1.5'], /instances.*1\.5/],
  ['scale web 99999999', ['scale', 'keeper', '99999999'], /at most 4096, got 99999999/],
  ['scale to a word', ['scale', 'keeper', 'abc'], /scale takes a number.*"abc"/],
  ['scale to zero', ['scale', 'keeper', '0'], /cannot scale keeper to 0/],
  ['scale an unknown app', ['scale', 'nosuch', '2'], /nosuch/],
  ['negative kill timeout', ['start', 'idle.js', '--kill-timeout', '-5'], /--kill-timeout.*"-5"/],
  ['kill timeout a word', ['start', 'idle.js', '--kill-timeout', 'abc'], /--kill-timeout.*"abc"/],
  ['kill timeout overflow', ['start', 'idle.js', '--kill-timeout', '99999999999999999999999'], /--kill-timeout/],
  ['negative listen timeout', ['start', 'idle.js', '--listen-timeout', '-1'], /--listen-timeout.*"-1"/],
  ['negative restart delay', ['start', 'idle.js', '--restart-delay', '-1'], /--restart-delay.*"-1"/],
  ['negative backoff', ['start', 'idle.js', '--exp-backoff-restart-delay', '-3'], /--exp-backoff-restart-delay.*"-3"/],
  ['negative max restarts', ['start', 'idle.js', '--max-restarts', '-1'], /--max-restarts.*"-1"/],
  ['min uptime a word', ['start', 'idle.js', '--min-uptime', 'abc'], /--min-uptime.*"abc"/],
  ['lines a word', ['logs', 'keeper', '--lines', 'abc', '--nostream'], /'abc'.*--lines/],
  ['log type', ['start', 'idle.js', '--log-type', 'xml'], /log-type.*xml/],
  ['unclosed quote in node args', ['start', 'idle.js', '--node-args', "--title 'a b"], /a quote is not closed/],
  // Sizes
  ['size 12XB', ['start', 'idle.js', '--max-memory-restart', '12XB'], /"12XB" is not a memory size/],
  ['size -5M', ['start', 'idle.js', '--max-memory-restart', '-5M'], /"-5M" is not a memory size/],
  ['size empty', ['start', 'idle.js', '--max-memory-restart', ''], /max-memory-restart/],
  // Signals
  ['unknown signal', ['sendSignal', 'SIGFOO', 'keeper'], /Unknown signal: SIGFOO/],
  ['numeric signal out of range', ['sendSignal', '99', 'keeper'], /Unknown signal: 99/],
  ['empty signal', ['sendSignal', '', 'keeper'], /Unknown signal/],
  ['unknown kill signal', ['start', 'idle.js', '--kill-signal', 'SIGNOPE'], /SIGNOPE/],
  ['signal to an unknown app', ['sendSignal', 'SIGUSR2', 'nosuch'], /nosuch/],
  // Cron
  ['cron words', ['start', 'idle.js', '--cron-restart', 'not a cron'], /cron.*not a cron/],
  ['cron minute 61', ['start', 'idle.js', '--cron-restart', '61 * * * *'], /cron.*61 \* \* \* \*/],
  ['cron 8 fields', ['start', 'idle.js', '--cron-restart', '* * * * * * * *'], /cron/],
  ['cron step 0', ['start', 'idle.js', '--cron-restart', '*/0 * * * *'], /cron/],
  // Ids and targets
  ['unknown id', ['stop', '99'], /Process or Namespace 99 not found/],
  ['huge id', ['stop', '99999999999999999999'], /99999999999999999999 not found/],
  ['negative id', ['stop', '-1'], /'-1'/],
  ['fractional id', ['restart', '1.5'], /1\.5 not found/],
  ['bad regex', ['stop', '/[/'], /invalid regex/],
  ['empty target', ['delete', ''], /not found|empty/],
  ['unknown name', ['describe', 'nosuch'], /nosuch doesn't exist/],
  ['reset unknown', ['reset', 'nosuch'], /nosuch not found/],
  ['missing target', ['stop'], /required/i],
  // Names
  ['empty name', ['start', 'idle.js', '--name', ''], /--name must not be empty/],
  ['10 kB name', ['start', 'idle.js', '--name', long], /name.*too long/],
  ['name with a newline', ['start', 'idle.js', '--name', 'a\nb'], /name.*control character/],
  ['name with a tab', ['start', 'idle.js', '--name', 'a\tb'], /name.*control character/],
  ['name "all"', ['start', 'idle.js', '--name', 'all'], /name "all" is reserved/],
  ['name taken', ['start', 'idle.js', '--name', 'keeper'], /Script already launched/],
  ['ecosystem name with NUL', ['start', 'nul-name.json'], /name.*control character/],
  ['ecosystem name with a newline', ['start', 'newline-name.json'], /name.*control character/],
  ['ecosystem name "all"', ['start', 'all-name.json'], /name "all" is reserved/],
  // Paths
  ['missing script', ['start', 'missing.js'], /Script not found: .*missing\.js$/],
  ['script is a device', ['start', '/dev/null'], /Script is not a regular file: \/dev\/null$/],
  ['script is a folder', ['start', '/tmp'], /not a regular file|Script not found/],
  ['cwd missing', ['start', 'idle.js', '--name', 'y', '--cwd', '/nonexistent/dir'], /cwd.*\/nonexistent\/dir/],
  ['ecosystem cwd missing', ['start', 'cwd-missing.json'], /\/nonexistent\/dir/],
  ['log under a file', ['start', 'idle.js', '--name', 'y', '--output', 'a-file/out.log'], /a-file\/out\.log/],
  ['error log under a file', ['start', 'idle.js', '--name', 'y', '--error', 'a-file/err.log'], /a-file\/err\.log/],
  ['log dir not writable', ['start', 'idle.js', '--name', 'y', '--log', '/proc/self/nope.log'], /\/proc\/self\/nope\.log/],
  ['pid file under a file', ['start', 'idle.js', '--name', 'y', '--pid', 'a-file/y.pid'], /a-file\/y\.pid/],
  // Ecosystem files
  ['JSON syntax error', ['start', 'syntax.json'], /syntax\.json: invalid JSON at line 2 column \d+/],
  ['YAML syntax error', ['start', 'syntax.yml'], /syntax\.yml: invalid YAML.*line 3/],
  ['JS syntax error', ['start', 'syntax.config.js'], /syntax\.config\.js: SyntaxError.*line 2/],
  ['JS config that throws', ['start', 'throws.config.js'], /throws\.config\.js: Error: no config for you \(line 1/],
  ['JS config that never finishes', ['start', 'hangs.config.mjs'], /hangs\.config\.mjs: node did not finish evaluating it within \d+ s/, { timeout: 90000 }],
  ['JS config exporting a function', ['start', 'function.config.js'], /exports a function/],
  ['ecosystem script missing', ['start', 'noscript.json'], /Script not found.*nope\.js/],
  ['ecosystem script empty', ['start', 'emptyscript.json'], /script/],
  ['ecosystem without script', ['start', 'nofield.json'], /script/],
  ['apps not an array', ['start', 'appsnumber.json'], /apps/],
  ['no apps', ['start', 'appsempty.json'], /apps|no app/i],
  ['top level a number', ['start', 'toplevel.json'], /toplevel\.json/],
  ['instances of the wrong type', ['start', 'instances-type.json'], /instances.*many/],
  ['memory of the wrong type', ['start', 'memory-type.json'], /max_memory_restart/],
  ['env of the wrong type', ['start', 'env-type.json'], /env/],
  ['bad cron in a file', ['start', 'cron-type.json'], /cron.*every day/],
  ['bad signal in a file', ['start', 'signal-type.json'], /SIGWHAT/],
  ['negative timeout in a file', ['start', 'timeout-type.json'], /kill_timeout/],
  ['50 MB ecosystem file', ['start', 'huge.json'], /huge\.json.*too large/, { timeout: 60000 }],
  ['--only matching nothing', ['start', 'good.json', '--only', 'nosuch'], /--only nosuch.*no app named "nosuch"/],
  ['invalid JSON on stdin', ['start', '-'], /invalid JSON on stdin/, { input: '[{"name": ' }],
  ['not JSON on stdin', ['delete', '-'], /invalid JSON on stdin/, { input: 'not json' }],
];

const PANIC = /panicked|RUST_BACKTRACE|stack backtrace|^\s+at .+:\d+:\d+\)?$|thread '.*' /m;

function assertUntouched() {
  assert.equal(ctx.daemonPid(), daemon, 'the same daemon (pid file)');
  assert.ok(isAlive(daemon), 'the daemon is alive');
  assert.deepEqual(
    ctx.jlist().map((p) => [p.name, p.pm2_env.status, p.pid]),
    [['keeper', 'online', keeper.pid]],
    'keeper still the only app, online, same pid',
  );
}

test('the table has at least 60 bad inputs', () => {
  assert.ok(BAD.length >= 60, `${BAD.length} rows`);
});

for (const [label, args, msg, opts = {}] of BAD) {
  test(`bad: ${label}`, { timeout: (opts.timeout || 30000) + 30000 }, () => {
    const r = ctx.pm(args, opts);
    assert.notEqual(r.status, 0, `non-zero exit; stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.signal, null, 'exited, not killed');
    const errLines = r.stderr.trim() === '' ? [] : r.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, `exactly one line on stderr, got ${JSON.stringify(r.stderr.slice(0, 2000))} (stdout ${JSON.stringify(r.stdout.slice(0, 200))})`);
    assert.doesNotMatch(r.stderr, PANIC, 'no panic text or stack trace');
    assert.ok(errLines[0].length < 1000, `a readable line, not ${errLines[0].length} characters`);
    assert.match(errLines[0], msg);
    assertUntouched();
  });
}

// Odd names pm2 accepts: they start, their files stay inside the home's folders, the name comes
// back as given, and `delete <name>` removes exactly that app.
const ODD_NAMES = [
  ['a path', '../../escape'],
  ['quotes', `it's "quoted"`],
  ['unicode', 'café-☕-名前'],
  ['a number', '4242'],
  ['spaces and shell characters', 'a b;$(touch x)|`y`'],
];

for (const [label, name] of ODD_NAMES) {
  test(`odd but valid name: ${label}`, async () => {
    ctx.ok(['start', 'idle.js', '--name', name]);
    const [p] = await ctx.online(name);
    const outLog = p.pm2_env.pm_out_log_path;
    assert.equal(path.dirname(outLog), path.join(ctx.home, 'logs'), `log file inside logs/: ${outLog}`);
    assert.equal(path.dirname(p.pm2_env.pm_pid_path), path.join(ctx.home, 'pids'));
    assert.ok(fs.existsSync(outLog));
    assert.equal(fs.existsSync(path.join(ctx.apps, 'x')), false, 'nothing ran through a shell');
    ctx.ok(['delete', name]);
    assertUntouched();
  });
}

test('-i -5 on a small machine clamps to one instance, as pm2 does', async () => {
  ctx.ok(['start', 'idle.js', '--name', 'neg', '-i', '-5']);
  const ps = await ctx.online('neg');
  assert.equal(ps.length, 1);
  ctx.ok(['delete', 'neg']);
  assertUntouched();
});

test('unknown ecosystem fields are a warning, not an error', async () => {
  ctx.write('unknown-field.json', eco([{ name: 'uf', script: 'idle.js', colour: 'blue' }]));
  const r = ctx.ok(['start', 'unknown-field.json']);
  assert.match(r.stderr + r.stdout, /colour/, 'the unknown field is named');
  await ctx.online('uf');
  ctx.ok(['delete', 'uf']);
  assertUntouched();
});

// Raw bytes on every socket the daemon listens on: the control socket (rpc.sock), the
// /metrics listener, an app's notify socket and an app's IPC channel. The worst a client may
// get is its own connection closed.

const net = require('node:net');
const { waitFor } = require('./helpers');

const PROTOCOL = 13; // src/protocol/mod.rs PROTOCOL_VERSION
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const frame = (obj) => {
  const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  return Buffer.concat([u32(body.length), body]);
};
const HELLO = frame({ verb: 'hello', protocol: PROTOCOL, version: '0.1.0' });
const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

/** Connects to `target` ({ path } or { port, host }), writes `chunks`, and resolves with
 * { closed, ms } once the daemon closes it, or { closed: false } after `ms`. */
function raw(target, chunks, { ms = 5000, end = false } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = net.connect(target);
    const timer = setTimeout(() => {
      c.destroy();
      resolve({ closed: false });
    }, ms);
    c.on('connect', () => {
      for (const ch of chunks) c.write(ch);
      if (end) c.end();
    });
    c.on('data', () => {});
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, ms: Date.now() - t0 });
    });
  });
}

/** Sends one byte every `every` ms until the peer closes; resolves with how long that took. */
function trickle(target, bytes, { every = 1000, limit = 60000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = net.connect(target);
    let i = 0;
    let timer;
    const tick = () => {
      if (i < bytes.length) c.write(bytes.subarray(i, ++i));
      if (Date.now() - t0 > limit) return c.destroy();
      timer = setTimeout(tick, every);
    };
    c.on('connect', tick);
    c.on('data', () => {});
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

const rpc = () => ({ path: path.join(ctx.home, 'rpc.sock') });

const RAW = [
  ['garbage', [Buffer.from('GET / HTTP/1.1\r\n\r\n')]],
  ['random bytes', [require('node:crypto').randomBytes(4096)]],
  ['a truncated length', [Buffer.from([0, 0])]],
  ['a truncated body', [u32(1000), Buffer.from('{"verb":"list"')]],
  ['a 100 MB length prefix', [u32(100 * 1024 * 1024), Buffer.from('{}')]],
  ['a 100 MB length prefix after hello', [HELLO, u32(100 * 1024 * 1024)]],
  ['deeply nested JSON', [HELLO, frame('['.repeat(200000) + ']'.repeat(200000))]],
  ['deeply nested objects', [HELLO, frame('{"a":'.repeat(50000) + '1' + '}'.repeat(50000))]],
  ['a request that is not JSON', [HELLO, frame('not json at all')]],
  ['an unknown verb', [HELLO, frame({ verb: 'rm_rf' })]],
  ['a start with the wrong types', [HELLO, frame({ verb: 'start', apps: [{ script: 5, name: [] }], env: 'x' })]],
  ['a start with a 10 kB name', [HELLO, frame({ verb: 'start', apps: [{ script: '/bin/sh', name: 'n'.repeat(10240) }], env: {} })]],
];

for (const [label, chunks] of RAW) {
  test(`raw rpc.sock: ${label}`, async () => {
    const r = await raw(rpc(), chunks, { ms: 15000, end: true });
    assert.equal(r.closed, true, 'the daemon closes the connection');
    assertUntouched();
  });
}

test('raw rpc.sock: a client sending one byte a second before its hello is dropped within ~10 s', { timeout: 60000 }, async () => {
  const ms = await trickle(rpc(), HELLO, { limit: 40000 });
  assert.ok(ms >= 5000 && ms < 25000, `dropped after ${ms} ms`);
  assertUntouched();
});

test('raw rpc.sock: a frame sent one byte a second after hello is dropped within ~30 s', { timeout: 90000 }, async () => {
  const c = net.connect(rpc());
  c.on('error', () => {});
  await new Promise((r) => c.on('connect', r));
  c.write(HELLO);
  const t0 = Date.now();
  const body = frame({ verb: 'list', padding: 'x'.repeat(200) });
  let i = 0;
  const timer = setInterval(() => i < body.length && c.write(body.subarray(i, ++i)), 1000);
  await new Promise((r) => c.on('close', r));
  clearInterval(timer);
  const ms = Date.now() - t0;
  assert.ok(ms >= 25000 && ms < 60000, `dropped after ${ms} ms`);
  assertUntouched();
});

test('raw rpc.sock: 1,000 idle connections do not stop other clients, and are let go', { timeout: 120000 }, async () => {
  const before = fdCount(daemon);
  const held = [];
  for (let i = 0; i < 1000; i++) {
    const c = net.connect(rpc());
    c.on('error', () => {});
    held.push(c);
  }
  await waitFor(() => held.every((c) => !c.connecting), { timeout: 30000, message: '1,000 connected' });
  const t0 = Date.now();
  const ping = ctx.pm(['ping'], { timeout: 10000 });
  assert.equal(ping.status, 0, ping.stderr);
  assertUntouched();
  assert.ok(Date.now() - t0 < 10000, 'answered while 1,000 connections idle');
  // None of them said hello: the daemon drops them and gives their descriptors back.
  await waitFor(() => held.every((c) => c.destroyed || c.closed), { timeout: 40000, message: 'idle connections dropped' });
  for (const c of held) c.destroy();
  await waitFor(() => fdCount(daemon) <= before + 2, { timeout: 20000, message: `daemon fds back near ${before}` });
});

test('raw /metrics listener: garbage, a huge head, and a slow client', { timeout: 60000 }, async () => {
  const port = 30000 + (process.pid % 20000);
  ctx.ok(['metrics', '--port', String(port)]);
  const target = { host: '127.0.0.1', port };
  await waitFor(() => raw(target, [Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')], { ms: 3000 }).then((r) => r.closed), { message: '/metrics up' });
  for (const chunks of [
    [require('node:crypto').randomBytes(2048)],
    [Buffer.from('GET /' + 'a'.repeat(100000) + ' HTTP/1.1\r\n\r\n')],
    [Buffer.from('GET /metrics HTTP/1.1\r\n' + 'X: y\r\n'.repeat(20000) + '\r\n')],
    [Buffer.from('POST /metrics HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nxx')],
  ]) {
    const r = await raw(target, chunks, { ms: 15000 });
    assert.equal(r.closed, true);
  }
  const slow = await trickle(target, Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'), { limit: 30000 });
  assert.ok(slow < 20000, `a slow HTTP client is dropped (${slow} ms)`);
  ctx.ok(['metrics', '--off']);
  assertUntouched();
});

test("raw notify socket and IPC channel: an app's garbage reaches no further than its own process", { timeout: 60000 }, async () => {
  ctx.write('noisy.js', `
    const fs = require('fs');
    // Garbage on Node's IPC channel (fd 3): not JSON, a huge line, a lone brace.
    fs.writeSync(3, 'garbage\\n{{{\\n' + 'x'.repeat(1 << 20) + '\\n{"type":\\n');
    setInterval(() => {}, 1 << 30);
  `);
  ctx.ok(['start', 'noisy.js', '--name', 'noisy']);
  const [noisy] = await ctx.online('noisy');
  const sockDir = path.join(ctx.home, 'notify');
  const socks = fs.existsSync(sockDir) ? fs.readdirSync(sockDir).filter((f) => f.endsWith('.sock')) : [];
  assert.ok(socks.length > 0, 'the app has a notify socket');
  // Node has no unix datagram sockets: python sends them. (Not WATCHDOG=trigger: that one is
  // systemd's real "restart me".)
  for (const f of socks) {
    spawnSyncPy(`import socket,os
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in [b'\\x00\\xff'*1000, b'READY=1\\nSTATUS=' + b'x'*60000, b'WATCHDOG=maybe', b'=\\n=\\n', os.urandom(4096)]:
    try: s.sendto(m, ${JSON.stringify(path.join(sockDir, f))})
    except OSError: pass`);
  }
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(ctx.procs('noisy')[0].pid, noisy.pid, 'the noisy app runs on');
  ctx.ok(['delete', 'noisy']);
  assertUntouched();
});

function spawnSyncPy(code) {
  const r = require('node:child_process').spawnSync('python3', ['-c', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}
