'use strict';
// Whatever a client sends on the control socket, the worst outcome is that its own connection is
// closed: the daemon keeps answering and the apps keep running. Also: who may reach the socket.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { makeCtx, waitFor, isAlive } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

const sock = path.join(ctx.home, 'rpc.sock');
let keeper;
let daemon;

function frame(obj) {
  const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

// src/protocol/mod.rs PROTOCOL_VERSION: a daemon closes a connection that greets with another.
const PROTOCOL = 13;
const HELLO = { verb: 'hello', protocol: PROTOCOL, version: '0.1.0' };

/** Decodes the length-prefixed JSON frames in `buf` (ignores a trailing partial one). */
function decode(buf) {
  const out = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (off + 4 + len > buf.length) break;
    out.push(JSON.parse(buf.subarray(off + 4, off + 4 + len).toString()));
    off += 4 + len;
  }
  return out;
}

/**
 * One connection: sends `chunks`, half-closes (unless `keepOpen`), and resolves with the frames
 * the daemon answered once it closes (or after `ms`, then the socket is destroyed).
 */
function exchange(chunks, { ms = 3000, keepOpen = false } = {}) {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    const got = [];
    const timer = setTimeout(() => {
      c.destroy();
      resolve({ frames: decode(Buffer.concat(got)), closedByDaemon: false });
    }, ms);
    c.on('connect', () => {
      for (const ch of chunks) c.write(ch);
      if (!keepOpen) c.end();
    });
    c.on('data', (d) => got.push(d));
    c.on('error', (e) => {
      // The daemon may close before reading everything we wrote: EPIPE/ECONNRESET are fine.
      if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') {
        clearTimeout(timer);
        reject(e);
      }
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ frames: decode(Buffer.concat(got)), closedByDaemon: true });
    });
  });
}

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

before(async () => {
  // The daemon must tighten a too-open home to 0700 (it holds the control socket).
  fs.chmodSync(ctx.home, 0o755);
  ctx.ok(['start', 'idle.js', '--name', 'keeper']);
  [keeper] = await ctx.online('keeper');
  daemon = ctx.daemonPid();
  assert.ok(isAlive(daemon));
});

test('socket is 0600 and PM_HOME is 0700', () => {
  const s = fs.statSync(sock);
  assert.ok(s.isSocket());
  assert.equal(s.mode & 0o777, 0o600);
  assert.equal(fs.statSync(ctx.home).mode & 0o777, 0o700);
});

test('a request without hello gets one error frame and the connection is closed', async () => {
  const r = await exchange([frame({ verb: 'list' })]);
  assert.equal(r.closedByDaemon, true);
  assert.deepEqual(r.frames, [{ kind: 'error', code: 'invalid_input', reason: 'the first request must be a hello', message: 'the first request must be a hello' }]);
});

test('kill without hello does not stop the daemon', async () => {
  const r = await exchange([frame({ verb: 'kill' })]);
  assert.deepEqual(r.frames, [{ kind: 'error', code: 'invalid_input', reason: 'the first request must be a hello', message: 'the first request must be a hello' }]);
  assert.equal(ctx.pm(['ping']).status, 0);
  assert.ok(isAlive(daemon));
});

test('hello is answered with the protocol version; unknown verbs get an error', async () => {
  const r = await exchange([frame(HELLO), frame({ verb: 'format_disk' })]);
  assert.equal(r.frames.length, 2, JSON.stringify(r.frames));
  assert.equal(r.frames[0].kind, 'hello');
  assert.equal(r.frames[0].protocol, PROTOCOL);
  assert.equal(r.frames[1].kind, 'error');
});

test('100 garbage frames on separate connections leave the daemon and the app untouched', async () => {
  const fdsBefore = fdCount(daemon);
  const cases = [];
  const rnd = (n) => crypto.randomBytes(n);
  for (let i = 0; i < 30; i++) cases.push([rnd(1 + (i * 37) % 300)]);
  cases.push([u32(0xffffffff), rnd(64)]);
  cases.push([u32(0xffffffff)]);
  cases.push([u32(0x7fffffff), rnd(16)]);
  cases.push([u32(64 * 1024 * 1024 + 1), Buffer.from('{}')]);
  cases.push([u32(60 * 1024 * 1024), Buffer.from('{"verb":')]); // allowed size, never completed
  cases.push([Buffer.from([0, 0])]); // a partial length
  cases.push([u32(0)]); // an empty body
  for (let i = 0; i < 10; i++) cases.push([u32(100 + i), rnd(10 + i)]); // truncated bodies
  for (const bad of ['{', 'not json', '{"verb":"list"', '[]', 'null', '"hello"', '{"verb":42}', '\u0000\u0001', '{}', '1e999999']) {
    cases.push([frame(bad)]);
    cases.push([frame(HELLO), frame(bad)]);
  }
  cases.push([frame({ verb: 'nope' })]);
  cases.push([frame({ verb: 'hello', protocol: 999, version: 'x' }), frame({ verb: 'kill' })]);
  cases.push([frame({ verb: 'hello' })]);
  cases.push([frame(HELLO), frame({ verb: 'start', apps: 'not an array', env: {} })]);
  cases.push([frame(HELLO), frame({ verb: 'stop', targets: [1, 2, 3] })]);
  cases.push([frame(HELLO), frame({ verb: 'send_data', id: -1, data: null })]);
  cases.push([frame(HELLO), frame('['.repeat(100000) + ']'.repeat(100000))]); // deep nesting
  cases.push([frame(HELLO), frame({ verb: 'list' }).subarray(0, 6)]);
  cases.push([frame(HELLO), frame(HELLO)]);
  cases.push([frame(HELLO), u32(0xffffffff)]);
  cases.push([frame(HELLO), frame({ verb: 'ping' }), rnd(50)]);
  cases.push([frame(HELLO), frame({ verb: 'send_line', target: 'nosuch', line: 'x' })]);
  cases.push([frame(HELLO), frame({ verb: 'restart', targets: ['nosuch'], update_env: 'x' })]);
  cases.push([frame(HELLO), frame({ verb: 'delete', targets: [] }), frame({ verb: 'stop' })]);
  while (cases.length < 100) cases.push([rnd(7), frame(HELLO)]);
  assert.equal(cases.length, 100);

  for (let i = 0; i < cases.length; i += 10) {
    const batch = cases.slice(i, i + 10).map((chunks) => exchange(chunks));
    const results = await Promise.all(batch);
    for (const [j, r] of results.entries()) {
      assert.equal(r.closedByDaemon, true, `case ${i + j}: the daemon closes a connection whose client has gone`);
    }
  }

  const ping = ctx.pm(['ping']);
  assert.equal(ping.status, 0, ping.stderr);
  assert.equal(ping.stdout, "{ msg: 'pong' }\n");
  assert.equal(ctx.daemonPid(), daemon);
  assert.ok(isAlive(daemon));
  assert.deepEqual(ctx.jlist().map((p) => [p.name, p.pm2_env.status, p.pid]), [['keeper', 'online', keeper.pid]]);
  // Every connection was released.
  await waitFor(() => fdCount(daemon) <= fdsBefore, { message: `daemon fds back to ${fdsBefore}` });
});

test('idle and half-sent connections do not block other clients', async () => {
  const held = [];
  for (let i = 0; i < 20; i++) {
    const c = net.connect(sock);
    c.on('error', () => {});
    held.push(c);
    if (i % 2) c.write(Buffer.concat([frame(HELLO), u32(1000), Buffer.from('{"verb"')]));
    else c.write(Buffer.from([0, 0, 0]));
  }
  await waitFor(() => held.every((c) => !c.connecting), { message: 'all connected' });
  try {
    const t0 = Date.now();
    const ping = ctx.pm(['ping'], { timeout: 5000 });
    assert.equal(ping.status, 0, ping.stderr);
    const j = ctx.pm(['jlist'], { timeout: 5000 });
    assert.equal(JSON.parse(j.stdout)[0].pid, keeper.pid);
    assert.ok(Date.now() - t0 < 3000, 'answered promptly');
  } finally {
    for (const c of held) c.destroy();
  }
  assert.deepEqual(ctx.jlist().map((p) => [p.name, p.pm2_env.status, p.pid]), [['keeper', 'online', keeper.pid]]);
});
