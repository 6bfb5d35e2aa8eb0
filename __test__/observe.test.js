'use strict';
// Seeing the processes from outside the CLI: Prometheus `/metrics` (pm2 exporter names, checked
// by promtool), kept across daemon restarts, and the apps' code metrics from the preload
// (heap, event loop, HTTP) in jlist, `pm describe` and `/metrics`.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { spawnSync } = require('node:child_process');
const { makeCtx, waitFor } = require('./helpers');

const HELLO = `
const http = require('http');
http.createServer((req, res) => res.end('hello')).listen(Number(process.env.APP_PORT), '127.0.0.1');
`;

const ctx = makeCtx();
ctx.write('hello.js', HELLO);
after(() => ctx.cleanup());

/** A port nothing listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The token `pm metrics` printed for the scrape config. */
function metricsToken(r) {
  const m = /Authorization: Bearer ([0-9a-f]{32})/.exec(r.stdout);
  assert.ok(m, `a token in: ${r.stdout}`);
  return m[1];
}

function get(port, path, token) {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

const env = { PM_NATIVE_METRICS_INTERVAL: '300' };

test('/metrics serves the pm2 exporter metrics, valid for promtool, with code metrics', async () => {
  const appPort = await freePort();
  ctx.ok(['start', ctx.app('hello.js'), '--name', 'web'], { env: { ...env, APP_PORT: String(appPort) } });
  ctx.ok(['start', ctx.app('hello.js'), '--name', 'idle', '--no-autostart'], { env });
  const [web] = await ctx.online('web');
  const port = await freePort();
  const r = ctx.ok(['metrics', '--port', String(port)]);
  assert.match(r.stdout, new RegExp(`http://127\\.0\\.0\\.1:${port}/metrics`));
  const token = metricsToken(r);

  // Traffic, so the HTTP metrics have something to count.
  await waitFor(async () => (await get(appPort, '/')).body === 'hello', { message: 'the app answers' });
  for (let i = 0; i < 20; i++) await get(appPort, '/');
  const monitor = await waitFor(
    () => {
      const p = ctx.procs('web')[0];
      const m = p && p.pm2_env.axm_monitor;
      return m && m.HTTP && m.HTTP.value > 0 && m;
    },
    { message: 'code metrics with HTTP traffic in jlist', timeout: 15000 },
  );
  for (const k of ['Used Heap Size', 'Heap Size', 'Event Loop Latency', 'Event Loop Latency p95', 'Active handles', 'Active requests', 'HTTP Mean Latency', 'HTTP P95 Latency']) {
    assert.ok(k in monitor, `axm_monitor has ${k}: ${JSON.stringify(monitor)}`);
  }
  assert.equal(monitor['Used Heap Size'].unit, 'MiB');
  assert.ok(monitor['Used Heap Size'].value > 0);

  // The token, as Prometheus sends it (authorization: in the scrape config) or in the query.
  assert.equal((await get(port, '/metrics')).status, 401);
  assert.equal((await get(port, '/metrics', 'f'.repeat(32))).status, 401);
  assert.equal((await get(port, `/metrics?token=${token}`)).status, 200);
  const res = await get(port, '/metrics', token);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /openmetrics-text|text\/plain/);
  const labels = `id="${web.pm_id}",name="web",instance="0",interpreter="node"`;
  assert.match(res.body, new RegExp(`^pm2_up\\{${labels}\\} 1(\\.0)?$`, 'm'));
  assert.match(res.body, /^pm2_up\{id="\d+",name="idle",[^}]*\} 0(\.0)?$/m);
  for (const name of ['pm2_cpu', 'pm2_memory', 'pm2_uptime', 'pm2_instances', 'pm2_restarts', 'pm2_used_heap_size', 'pm2_http', 'pm2_event_loop_latency_p95']) {
    assert.match(res.body, new RegExp(`^${name}\\{${labels}\\} [0-9.e+]+$`, 'm'), `${name} in\n${res.body}`);
  }
  assert.match(res.body, /^pm2_memory\{[^}]*name="web"[^}]*\} [1-9]/m);
  assert.match(res.body, /^pm_native_apps\{status="online"\} 1$/m);
  assert.match(res.body, /^pm_native_apps\{status="stopped"\} 1$/m);
  assert.match(res.body, /^pm_native_daemon_resident_memory_bytes [1-9]\d*$/m);
  assert.match(res.body, /^pm_native_daemon_open_fds [1-9]\d*$/m);
  const check = promtool(res.body);
  assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  // promtool must be able to fail, or the check above proves nothing.
  assert.notEqual(promtool('pm2_up{id="0" 1\n').status, 0);

  assert.equal((await get(port, '/other', token)).status, 404);

  const desc = ctx.ok(['describe', 'web']).stdout;
  assert.match(desc, / Code metrics value /);
  assert.match(desc, /│ Used Heap Size\s+│ [0-9.]+ MiB\s+│/);
  assert.match(desc, /│ HTTP\s+│ [0-9.]+ req\/min\s+│/);
});

test('PM_NATIVE_APP_METRICS=false leaves an app without code metrics', async () => {
  ctx.ok(['start', ctx.app('hello.js'), '--name', 'quiet'], {
    env: { ...env, PM_NATIVE_APP_METRICS: 'false', APP_PORT: String(await freePort()) },
  });
  const [quiet] = await ctx.online('quiet');
  // Long enough for several 300 ms reports, which `web` (same settings otherwise) keeps sending.
  await waitFor(() => Date.now() - quiet.pm2_env.pm_uptime > 1500, { message: '1.5 s online' , timeout: 5000 });
  assert.ok(Object.keys(ctx.procs('web')[0].pm2_env.axm_monitor).length > 0);
  assert.deepEqual(ctx.procs('quiet')[0].pm2_env.axm_monitor, {});
});

test('the metrics server comes back with the daemon, and --off stops it', async () => {
  const port = await freePort();
  const token = metricsToken(ctx.ok(['metrics', '--port', String(port)]));
  assert.equal((await get(port, '/metrics', token)).status, 200);
  ctx.ok(['kill']);
  await assert.rejects(get(port, '/metrics', token), /ECONNREFUSED/);
  ctx.ok(['ping']);
  const res = await waitFor(() => get(port, '/metrics', token).catch(() => null), { message: '/metrics after a restart' });
  assert.equal(res.status, 200, 'the same token after a daemon restart: a scrape config holds it');
  assert.equal(metricsToken(ctx.ok(['metrics', '--port', String(port)])), token, 'kept across pm metrics runs');
  assert.match(ctx.ok(['get', 'pm-native:metrics_port']).stdout, new RegExp(String(port)));
  ctx.ok(['metrics', '--off']);
  await assert.rejects(get(port, '/metrics'), /ECONNREFUSED/);
});

test('a port already taken is one readable error', async () => {
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address();
  try {
    const r = ctx.pm(['metrics', '--port', String(port)]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*in use`, 'i'));
  } finally {
    blocker.close();
    ctx.pm(['metrics', '--off']);
  }
});


test('/metrics shows each queue: jobs by state, consumers, counters; valid for promtool', async (t) => {
  process.env.PM_HOME = ctx.home; // the library's queue() finds the daemon through PM_HOME
  const { queue } = require('..');
  const port = await freePort();
  const token = metricsToken(ctx.ok(['metrics', '--port', String(port)]));
  const q = queue('mq');
  t.after(() => q.close());
  for (let i = 0; i < 5; i++) await q.push({ i });
  await q.push('later', { delay: 60000 });
  // One at a time: the first is acked, and the broker hands the second over, held unacked.
  const c = q.consume({ concurrency: 1 });
  const it = c[Symbol.asyncIterator]();
  const first = (await it.next()).value;
  await first.ack();
  const body = await waitFor(
    async () => {
      const b = (await get(port, '/metrics', token)).body;
      return /pm_native_queue_acked\{queue="mq"\} 1/.test(b) && /state="in_flight"\} 1/.test(b) && b;
    },
    { message: 'the queue in /metrics' },
  );
  const line = (name, labels, value) => assert.match(body, new RegExp(`^${name}\\{${labels}\\} ${value}$`, 'm'), `${name}{${labels}} ${value} in\n${body}`);
  line('pm_native_queue_jobs', 'queue="mq",state="ready"', 3);
  line('pm_native_queue_jobs', 'queue="mq",state="in_flight"', 1);
  line('pm_native_queue_jobs', 'queue="mq",state="delayed"', 1);
  line('pm_native_queue_consumers', 'queue="mq"', 1);
  line('pm_native_queue_pushed', 'queue="mq"', 6);
  const check = promtool(body);
  assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  ctx.ok(['metrics', '--off']);
});

test('pm metrics --no-token serves /metrics open, with a warning; the dashboard refuses it', async () => {
  const port = await freePort();
  const r = ctx.ok(['metrics', '--port', String(port), '--no-token']);
  assert.match(r.stdout, /served without a token/);
  assert.doesNotMatch(r.stdout, /Bearer/);
  const res = await waitFor(async () => (await get(port, '/metrics')).status === 200, { message: 'open /metrics' });
  assert.ok(res);
  const d = ctx.pm(['dashboard', '--no-token']);
  assert.notEqual(d.status, 0);
  assert.match(d.stderr, /the dashboard acts on the apps and always wants its token/);
  ctx.ok(['metrics', '--off']);
});
