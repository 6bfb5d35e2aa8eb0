'use strict';
// A closed-loop HTTP/1.1 load generator for the cluster scenario: the fallback when `wrk` is not
// on PATH, and the request counter during rolling reloads (it classifies every failure). It runs
// in its own process, apart from the servers it loads.
//
//   node loadgen.js --port P [--connections 32] [--seconds 3] [--warmup 0] [--mode keepalive|close|mixed]
//                   [--timeout-ms 5000]
//
// Every connection sends one GET / at a time on 127.0.0.1 (never anywhere else) and the next one
// when the answer is complete. keepalive: one socket per connection, reused; close: a new socket
// per request with `Connection: close`; mixed: half of each. Raw `net` sockets and a minimal
// response parser (status line, Content-Length or chunked, or read to EOF), because Node's `http`
// client costs several times more CPU per request and the generator shares the machine with the
// servers.
//
// It stops issuing requests after --warmup + --seconds, or on SIGTERM / SIGINT, lets the requests
// in flight finish (at most --timeout-ms), prints one JSON line on stdout and exits:
//   { tool, mode, connections, seconds, requests, ok, non200, errors, rps, errorKinds, final }
// `requests`/`ok`/`non200`/`errors` count what finished inside the measurement window (after the
// warm-up, before the stop); `final` counts everything since the warm-up ended, in-flight
// requests included, split by connection kind. "READY" goes to stderr at the first answer.

const net = require('net');

const HOST = '127.0.0.1';

function parseArgs(argv) {
  const o = { port: 0, connections: 32, seconds: 3, warmup: 0, mode: 'keepalive', timeoutMs: 5000 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (k === '--port') o.port = Number(v);
    else if (k === '--connections') o.connections = Number(v);
    else if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--warmup') o.warmup = Number(v);
    else if (k === '--mode') o.mode = v;
    else if (k === '--timeout-ms') o.timeoutMs = Number(v);
    else throw new Error(`loadgen: unknown argument ${k}`);
  }
  if (!Number.isInteger(o.port) || o.port <= 0 || o.port > 65535) throw new Error('loadgen: --port required');
  if (!Number.isInteger(o.connections) || o.connections < 1 || o.connections > 1024) throw new Error('loadgen: --connections 1..1024');
  if (!(o.seconds > 0 && o.seconds <= 600)) throw new Error('loadgen: --seconds in (0, 600]');
  if (!(o.warmup >= 0 && o.warmup <= 60)) throw new Error('loadgen: --warmup in [0, 60]');
  if (!['keepalive', 'close', 'mixed'].includes(o.mode)) throw new Error('loadgen: --mode keepalive|close|mixed');
  if (!(o.timeoutMs >= 10 && o.timeoutMs <= 60000)) throw new Error('loadgen: --timeout-ms in [10, 60000]');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const REQ = {
  keepalive: Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}:${opts.port}\r\n\r\n`, 'latin1'),
  close: Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}:${opts.port}\r\nConnection: close\r\n\r\n`, 'latin1'),
};

const now = () => Number(process.hrtime.bigint()) / 1e6;
const newCounts = () => ({ ok: 0, non200: 0, errors: 0, errorKinds: {} });
// Counters per connection kind; `snapshot` copies them at the window's edges.
const counts = { keepalive: newCounts(), close: newCounts() };
let measuring = opts.warmup === 0;
let windowStart = now();
let windowEnd = null;
let atStop = null;
let stopping = false;
let announced = false;

function tally(kind, what, errKind) {
  if (!measuring) return;
  const c = counts[kind];
  c[what]++;
  if (errKind) c.errorKinds[errKind] = (c.errorKinds[errKind] || 0) + 1;
}

function snapshot() {
  return JSON.parse(JSON.stringify(counts));
}

/** Parses one complete response at the start of `buf`; returns { status, used, close } or null. */
function parseResponse(buf, eof) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return null;
  const head = buf.slice(0, headEnd + 2);
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:[ \t]*close/i.test(head);
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
  const bodyStart = headEnd + 4;
  if (cl) {
    const used = bodyStart + Number(cl[1]);
    return buf.length >= used ? { status, used, close } : null;
  }
  if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
    const end = buf.indexOf('\r\n0\r\n\r\n', bodyStart - 2);
    return end === -1 ? null : { status, used: end + 7, close };
  }
  if (status === 204 || status === 304) return { status, used: bodyStart, close };
  return eof ? { status, used: buf.length, close: true } : null; // body until the server closes
}

let live = 0; // connections still running
let finishTimer = null;

/** One virtual client: a loop of request → complete answer → next request. */
function client(kind) {
  live++;
  let failedLast = false;
  const open = () => {
    if (stopping) return finish();
    const sock = net.connect({ host: HOST, port: opts.port });
    sock.setNoDelay(true);
    sock.setTimeout(opts.timeoutMs);
    let buf = '';
    let pending = false; // a request is out and its answer is not complete
    let lastErr = null;
    let done = false; // this socket is finished with (no further accounting)
    const send = () => {
      pending = true;
      sock.write(REQ[kind]);
    };
    const answered = (status, serverCloses) => {
      pending = false;
      tally(kind, status === 200 ? 'ok' : 'non200', status === 200 ? null : `HTTP ${status}`);
      if (!announced && status === 200) {
        announced = true;
        process.stderr.write('READY\n');
      }
      failedLast = false;
      if (kind === 'close' || serverCloses || stopping) {
        done = true;
        sock.destroy();
        next(0);
      } else send();
    };
    sock.on('connect', send);
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      const r = parseResponse(buf, false);
      if (!r) return;
      buf = buf.slice(r.used);
      answered(r.status, r.close);
    });
    sock.on('end', () => {
      if (pending && buf.length) {
        const r = parseResponse(buf, true);
        if (r) {
          buf = '';
          answered(r.status, true);
          return;
        }
      }
      sock.destroy();
    });
    sock.on('timeout', () => {
      lastErr = 'timeout';
      sock.destroy();
    });
    sock.on('error', (e) => {
      lastErr = e.code || 'error';
    });
    sock.on('close', () => {
      if (done) return;
      done = true;
      if (pending) {
        tally(kind, 'errors', lastErr || (buf.length ? 'closed mid-answer' : 'closed before answer'));
        failedLast = true;
      } else if (lastErr) {
        failedLast = true; // e.g. ECONNREFUSED before a request went out: counted below
        tally(kind, 'errors', lastErr);
      }
      next(failedLast ? 1 : 0);
    });
  };
  // After a failure wait 1 ms, so a refused port does not become a busy loop.
  const next = (delayMs) => (delayMs ? setTimeout(open, delayMs) : setImmediate(open));
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    live--;
    if (live === 0) report();
  };
  open();
}

let reported = false;
function report() {
  if (reported) return;
  reported = true;
  clearTimeout(finishTimer);
  const end = windowEnd || now();
  const w = atStop || snapshot();
  const sum = (c, k) => c.keepalive[k] + c.close[k];
  const seconds = (end - windowStart) / 1000;
  const kinds = {};
  for (const c of [w.keepalive, w.close]) for (const [k, n] of Object.entries(c.errorKinds)) kinds[k] = (kinds[k] || 0) + n;
  const out = {
    tool: 'node loadgen',
    mode: opts.mode,
    connections: opts.connections,
    seconds: Number(seconds.toFixed(3)),
    requests: sum(w, 'ok') + sum(w, 'non200'),
    ok: sum(w, 'ok'),
    non200: sum(w, 'non200'),
    errors: sum(w, 'errors'),
    rps: seconds > 0 ? sum(w, 'ok') / seconds : 0,
    errorKinds: kinds,
    final: snapshot(),
  };
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

function stop() {
  if (stopping) return;
  stopping = true;
  windowEnd = now();
  atStop = snapshot();
  // In-flight requests get timeoutMs to finish; then report whatever there is.
  finishTimer = setTimeout(report, opts.timeoutMs + 500);
  if (live === 0) report();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

if (opts.warmup > 0) {
  setTimeout(() => {
    measuring = true;
    windowStart = now();
  }, opts.warmup * 1000);
}
setTimeout(stop, (opts.warmup + opts.seconds) * 1000);

const n = opts.connections;
for (let i = 0; i < n; i++) {
  const kind = opts.mode === 'mixed' ? (i % 2 === 0 ? 'keepalive' : 'close') : opts.mode;
  client(kind);
}
