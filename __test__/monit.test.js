'use strict';
// `pm monit` in a real terminal: tmux (its own server socket) runs it detached, keys go in with
// send-keys, and the screen comes back with capture-pane. Checks the list, the live logs, the
// code metrics, a restart key bumping the count, the filter, a too-small window, that quit
// and SIGINT leave the alternate screen, and that a terminal closing under it ends it.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { makeCtx, waitFor } = require('./helpers');

const ctx = makeCtx();
ctx.write('ticker.js', `let i = 0; setInterval(() => console.log('tick ' + ++i), 100);`);
ctx.write('idle.js', `setInterval(() => {}, 1000);`);
const SOCKET = `pm-monit-test-${process.pid}`;
after(() => {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  ctx.cleanup();
});

function tmux(...args) {
  const r = spawnSync('tmux', ['-L', SOCKET, ...args], { env: ctx.env, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Runs monit in a shell that, once it exits, prints its status and the terminal's mode. */
function startMonit(session, alias = 'monit') {
  const cmd = `env PM_HOME='${ctx.home}' '${ctx.bin}' ${alias}; echo "EXITED $?"; stty -a | grep -oE -- '-?icanon'; sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
}

/** After monit: its status was 0, the shell is back in canonical mode, off the alternate screen, cursor on. */
async function restored(session) {
  await sees(session, /EXITED 0\n(.*\n)*icanon/, 'monit exited 0 and the terminal is canonical again');
  assert.doesNotMatch(screen(session), /-icanon/);
  assert.equal(display(session, '#{alternate_on}'), '0', 'the alternate screen was left');
  assert.equal(display(session, '#{cursor_flag}'), '1', 'the cursor is shown again');
  assert.doesNotMatch(screen(session), /Processes/);
}

const screen = (session) => tmux('capture-pane', '-p', '-t', session);
const display = (session, fmt) => tmux('display-message', '-p', '-t', session, fmt).trim();

async function sees(session, re, message) {
  return waitFor(() => re.test(screen(session)), { timeout: 15000, message: `${message}\n--- screen ---\n${screen(session)}` });
}

test('monit shows processes, logs and metrics, and its keys act on the selected app', async () => {
  const env = { PM_NATIVE_METRICS_INTERVAL: '300' };
  ctx.ok(['start', ctx.app('ticker.js'), '--name', 'ticker'], { env });
  ctx.ok(['start', ctx.app('idle.js'), '--name', 'idle'], { env });
  await ctx.online('ticker');
  await ctx.online('idle');
  startMonit('m');
  await sees('m', /Processes/, 'the process list');
  await sees('m', /\b0\s+ticker\s+fork\s+online\s+0\b/, 'ticker online with no restart');
  await sees('m', /\b1\s+idle\s+fork\s+online\b/, 'idle online');
  await sees('m', /tick \d+/, 'live log lines of the selected app');
  await sees('m', /Used Heap Size\s+[0-9.]+ MiB/, 'code metrics of the selected app');
  await sees('m', /CPU\s+[0-9.]+%/, 'cpu of the selected app');

  tmux('send-keys', '-t', 'm', 'r');
  await waitFor(() => ctx.procs('ticker')[0].pm2_env.restart_time === 1, { message: 'the restart key restarted ticker' });
  await sees('m', /\b0\s+ticker\s+fork\s+online\s+1\b/, 'the restart count on screen');
  assert.equal(ctx.procs('idle')[0].pm2_env.restart_time, 0, 'only the selected app restarted');

  // Down selects idle; s stops it.
  tmux('send-keys', '-t', 'm', 'Down');
  await sees('m', / idle logs /, 'idle selected');
  tmux('send-keys', '-t', 'm', 's');
  await waitFor(() => ctx.procs('idle')[0].pm2_env.status === 'stopped', { message: 'the stop key stopped idle' });
  await sees('m', /\b1\s+idle\s+fork\s+stopped\b/, 'idle stopped on screen');

  // The filter hides what does not match, Esc clears it.
  tmux('send-keys', '-t', 'm', '/', 'i', 'd', 'l');
  await sees('m', /filter: idl/, 'the filter prompt');
  await waitFor(() => !/\b0\s+ticker\s+fork/.test(screen('m')), { message: 'ticker filtered out' });
  tmux('send-keys', '-t', 'm', 'Escape');
  await sees('m', /\b0\s+ticker\s+fork/, 'ticker back after Esc');

  // d asks first; y deletes.
  tmux('send-keys', '-t', 'm', 'Down', 'd');
  await sees('m', /delete idle \(id 1\)\? y\/n/, 'the delete question');
  tmux('send-keys', '-t', 'm', 'y');
  await waitFor(() => ctx.procs('idle').length === 0, { message: 'idle deleted' });

  // A window too small for the panels gets a notice, and the panels come back.
  tmux('resize-window', '-t', 'm', '-x', '40', '-y', '10');
  await sees('m', /needs a 60x16 window/, 'the too-small notice');
  tmux('resize-window', '-t', 'm', '-x', '120', '-y', '40');
  await sees('m', /Processes/, 'the panels again');

  tmux('send-keys', '-t', 'm', 'q');
  await restored('m');
});

test('SIGINT ends monit (as imonit) and restores the terminal', async () => {
  startMonit('s', 'imonit');
  await sees('s', /Processes/, 'the process list');
  assert.equal(display('s', '#{alternate_on}'), '1');
  // The pane runs a shell; monit is its child.
  const shell = display('s', '#{pane_pid}');
  const r = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', shell], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => /imonit/.test(l));
  assert.ok(line, `monit under the pane's shell: ${r.stdout}`);
  process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGINT');
  await restored('s');
});

test('a terminal that goes away ends monit instead of leaving it running', async () => {
  startMonit('h');
  await sees('h', /Processes/, 'the process list');
  const shell = display('h', '#{pane_pid}');
  const r = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', shell], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => /monit/.test(l));
  assert.ok(line, `monit under the pane's shell: ${r.stdout}`);
  const pid = Number(line.trim().split(/\s+/)[0]);
  tmux('kill-session', '-t', 'h');
  const gone = () => {
    try {
      // A zombie has given everything back: its state is Z.
      return /^State:\s+Z/m.test(require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true;
    }
  };
  await waitFor(gone, { timeout: 5000, message: `monit (pid ${pid}) to exit after its terminal closed` });
});

test("monit shows a consumer app's queue depth, consumers and rates", async () => {
  process.env.PM_HOME = ctx.home; // the library's queue() finds this test's daemon
  const { queue } = require('..');
  // One job at a time, each held until the test is done: the rest wait, ready.
  const consumer = ctx.write('consumer.js', `
require(${JSON.stringify(path.join(__dirname, '..', 'worker.js'))}).handle(() => new Promise(() => {}));
`);
  const config = ctx.write('consumer.config.js', `module.exports = { apps: [${JSON.stringify({ name: 'eater', script: consumer, kill_timeout: 500, queue: { name: 'monjobs', concurrency: 1 } })}] };`);
  ctx.ok(['start', config]);
  const q = queue('monjobs');
  await waitFor(async () => (await q.stats()).consumers === 1, { message: 'eater consumes' });
  for (let i = 0; i < 4; i++) await q.push({ i });
  startMonit('q');
  await sees('q', /Processes/, 'the process list');
  tmux('send-keys', '-t', 'q', '/', 'e', 'a', 't', 'e', 'r', 'Enter');
  await sees('q', / eater logs /, 'eater selected');
  await sees('q', /queue\s+monjobs \(concurrency 1\)/, 'the queue it consumes');
  await sees('q', /queue depth\s+3 ready, 0 delayed, 1 in flight/, 'the depth');
  await sees('q', /queue consumers\s+1\b/, 'the consumer count');
  await q.push({ i: 4 });
  await sees('q', /queue depth\s+4 ready, 0 delayed, 1 in flight/, 'the depth follows a push');
  tmux('send-keys', '-t', 'q', 'q');
  await restored('q');
  await q.close();
  ctx.ok(['delete', 'eater']);
});

test('monit without a terminal says so', () => {
  const r = ctx.pm(['dash']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /needs a terminal/);
});
