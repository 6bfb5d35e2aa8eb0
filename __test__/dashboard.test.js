'use strict';
// The local web dashboard in a real headless browser (Debian's chromium, driven over the
// DevTools protocol on --remote-debugging-pipe: no WebSocket client, no browser download).
// With the token the page shows the apps, a click on restart bumps the count on the page;
// without it the page and the API answer 401. A screenshot is kept in the test's temp dir.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { makeCtx, waitFor } = require('./helpers');

const ctx = makeCtx();
process.env.PM_HOME = ctx.home; // the library's queue() finds this test's daemon
const { queue } = require('..');
ctx.write('ticker.js', `let i = 0; setInterval(() => console.log('tick ' + ++i), 100);`);
const artefacts = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-dashboard-'));
let browser = null;
after(() => {
  if (browser && browser.exitCode === null) browser.kill('SIGKILL');
  ctx.cleanup();
});

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

function request(url, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Chromium on a DevTools pipe: fd 3 carries our commands, fd 4 its answers, NUL-separated. */
function launchChromium() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-chromium-'));
  browser = spawn('chromium', [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-extensions', '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--window-size=1200,900', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  browser.stderr.on('data', (d) => (stderr += d));
  const toBrowser = browser.stdio[3];
  const fromBrowser = browser.stdio[4];
  let seq = 0;
  const pending = new Map();
  let buf = '';
  fromBrowser.setEncoding('utf8');
  fromBrowser.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      const p = msg.id !== undefined && pending.get(msg.id);
      if (!p) continue;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result);
    }
  });
  browser.on('exit', () => {
    for (const p of pending.values()) p.reject(new Error(`chromium exited: ${stderr.slice(-2000)}`));
    pending.clear();
  });
  const send = (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      pending.set(id, { resolve, reject, method });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  return { send, profile };
}

test('without the token the page and the API answer 401', async () => {
  const port = await freePort();
  const url = ctx.ok(['dashboard', '--port', String(port)]).stdout.trim();
  assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[0-9a-f]{32}$`));
  const base = `http://127.0.0.1:${port}`;
  for (const p of ['/', '/api/list', '/api/events', '/api/logs/0', '/?token=', '/?token=0000']) {
    assert.equal((await request(base + p)).status, 401, p);
  }
  assert.equal((await request(base + '/api/restart/0', 'POST')).status, 401);
  const ok = await request(url);
  assert.equal(ok.status, 200);
  assert.match(ok.body, /<title>pm-native dashboard<\/title>/);
  assert.doesNotMatch(ok.body, /<script[^>]+src=|<link[^>]+href=/, 'every asset is in the page');
  // Asked again, the URL stays the same: the token is kept.
  assert.equal(ctx.ok(['dashboard', '--port', String(port)]).stdout.trim(), url);
});

test('the page shows the apps live, and its restart button restarts one', async () => {
  ctx.ok(['start', ctx.app('ticker.js'), '--name', 'ticker'], { env: { PM_NATIVE_METRICS_INTERVAL: '300' } });
  await ctx.online('ticker');
  const port = await freePort();
  const url = ctx.ok(['dashboard', '--port', String(port)]).stdout.trim();

  const { send } = launchChromium();
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  await send('Page.navigate', { url }, sessionId);
  const evaluate = async (expression) => {
    const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
    if (r.exceptionDetails) throw new Error(`page: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value;
  };
  const cell = (cls) => `(document.querySelector('tr.proc[data-id="0"] .${cls}') || {}).textContent`;

  await waitFor(async () => (await evaluate(cell('name'))) === 'ticker', { message: 'ticker in the page', timeout: 15000 });
  await waitFor(async () => (await evaluate(cell('status'))) === 'online', { message: 'ticker online in the page' });
  assert.equal(await evaluate(cell('restarts')), '0');
  await waitFor(async () => /tick \d+/.test(await evaluate(`document.getElementById('logs').textContent`)), {
    message: 'live log lines in the page',
    timeout: 15000,
  });
  await waitFor(async () => /Used Heap Size/.test(await evaluate(`document.getElementById('metrics').textContent`)), {
    message: 'code metrics in the page',
    timeout: 15000,
  });

  await evaluate(`document.querySelector('button[data-act="restart"][data-id="0"]').click()`);
  await waitFor(async () => (await evaluate(cell('restarts'))) === '1', { message: 'the restart count changes on the page', timeout: 15000 });
  assert.equal(ctx.procs('ticker')[0].pm2_env.restart_time, 1);

  const shot = await send('Page.captureScreenshot', { format: 'png' }, sessionId);
  const file = path.join(artefacts, 'dashboard.png');
  fs.writeFileSync(file, Buffer.from(shot.data, 'base64'));
  assert.ok(fs.statSync(file).size > 1000, `a screenshot at ${file}`);
  console.log(`# screenshot: ${file}`);
  await evaluate(`document.querySelector('button[data-act="stop"][data-id="0"]').click()`);
  await waitFor(async () => (await evaluate(cell('status'))) === 'stopped', { message: 'stopped on the page', timeout: 15000 });

  // A consumer app: the queues table and the app's detail show the depth, live.
  const consumer = ctx.write('consumer.js', `
require(${JSON.stringify(path.join(__dirname, '..', 'worker.js'))}).handle(() => new Promise(() => {}));
`);
  const config = ctx.write('consumer.config.js', `module.exports = { apps: [${JSON.stringify({ name: 'eater', script: consumer, kill_timeout: 500, queue: { name: 'dashjobs', concurrency: 1 } })}] };`);
  ctx.ok(['start', config]);
  const q = queue('dashjobs');
  await waitFor(async () => (await q.stats()).consumers === 1, { message: 'eater consumes' });
  for (let i = 0; i < 3; i++) await q.push({ i });
  const queueRow = `[...document.querySelectorAll('#queues tr.queue[data-queue="dashjobs"] td')].map((td) => td.textContent).slice(0, 5).join(' ')`;
  await waitFor(async () => (await evaluate(queueRow)) === 'dashjobs 2 0 1 1', { message: 'the queue in the page: 2 ready, 0 delayed, 1 in flight, 1 consumer', timeout: 15000 });
  await q.push({ i: 3 });
  await waitFor(async () => (await evaluate(queueRow)) === 'dashjobs 3 0 1 1', { message: 'the depth follows a push', timeout: 15000 });
  const eater = ctx.procs('eater')[0].pm_id;
  await evaluate(`document.querySelector('tr.proc[data-id="${eater}"]').click()`);
  await waitFor(async () => /queue depth3 ready, 0 delayed, 1 in flight/.test(await evaluate(`document.getElementById('meta').textContent`)), {
    message: "the consumer's detail shows its queue depth",
    timeout: 15000,
  });
  await q.close();
  ctx.ok(['delete', 'eater']);

  await send('Browser.close').catch(() => {});
});
