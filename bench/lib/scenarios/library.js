'use strict';
// 10. The library face: require('pm-native').fork() against Node's child_process.fork, and the
// process Pool against piscina and workerpool (threads) and a hand-written child_process pool.
//
// pm2 has neither (its programmatic API drives the daemon; it forks nothing for the caller), so
// the pm2 column is empty and the ratios are against the Node reference. The measuring lives in
// examples/library/bench.js, which users can run by themselves; here it runs in a child process
// of its own (`--json`), so that the bench's own event loop does not load either contender.
// Within each repetition the contenders alternate, so background load hits both.

const path = require('path');
const { row, skipped } = require('../measure');
const { summarize } = require('../stats');

const SCENARIO = '10 library';
const ROOT = path.join(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'examples', 'library', 'bench.js');
const NO_PM2 = () => skipped('pm2 has no library fork() or pool');

module.exports = {
  id: 'library',
  title: 'Library: fork() IPC vs child_process.fork, Pool vs piscina / workerpool / a child_process pool',
  async run(ctx) {
    const args = [SCRIPT, '--json', ...(ctx.quick ? ['--quick'] : [])];
    const h = ctx.lab.spawnChild(process.execPath, args, { env: ctx.lab.baseEnv(), cwd: ROOT });
    const deadline = setTimeout(() => ctx.lab.stopChild(h), 10 * 60 * 1000);
    const r = await h.done;
    clearTimeout(deadline);
    if (r.code !== 0) throw new Error(`examples/library/bench.js exited ${r.code ?? r.signal}: ${String(r.stderr).trim().split('\n').pop()}`);
    const lastLine = String(r.stdout).trim().split('\n').pop();
    const data = JSON.parse(lastLine);
    const find = (prefix) => {
      const x = data.rows.find((rw) => rw.label.startsWith(prefix));
      if (!x) throw new Error(`examples/library/bench.js printed no "${prefix}" row`);
      return x.contenders;
    };
    const col = (samples, unit) => ({ samples: samples.map((m) => m[unit]) });
    const rows = [];

    const ipc = (prefix, what, unit, n) => {
      const c = find(prefix);
      rows.push(
        row({
          scenario: SCENARIO,
          metric: `fork() IPC ${what}`,
          unit,
          better: 'higher',
          pm: col(c['pm-native'], unit),
          pm2: NO_PM2(),
          ref: { label: 'child_process.fork', ...col(c.child_process, unit) },
          refTarget: { op: '>=', value: 1.0, text: '≥ 1.0× child_process.fork' },
          note: n,
        }),
      );
    };
    const m = data.messages;
    ipc('round trips, small', 'round trips/s, small message', 'msg/s', `${m.roundTripsSmall} round trips of a 45-byte JSON object, one in flight; the parent's CPU per round trip: see examples/library/bench.js`);
    ipc('round trips, 64 KB', 'round trips/s, 64 KB message', 'msg/s', `${m.roundTripsBig} round trips of a 64 KB string, one in flight`);
    ipc('round trips, 64 KB', 'MB/s, 64 KB round trips', 'MB/s', 'the same runs; MB/s counts the JSON both ways');
    ipc('stream, small', 'messages/s streamed, small message', 'msg/s', `${m.streamSmall} messages sent as fast as send() allows (it returns false under backpressure), echoed back`);
    ipc('stream, 64 KB', 'MB/s streamed, 64 KB message', 'MB/s', `${m.streamBig} messages of 64 KB sent as fast as send() allows, echoed back`);

    const pools = find('pool of');
    const poolRow = (refName, label, note) =>
      rows.push(
        row({
          scenario: SCENARIO,
          metric: `Pool of ${data.poolSize}: trivial tasks/s vs ${label}`,
          unit: 'tasks/s',
          better: 'higher',
          pm: col(pools['pm-native Pool'], 'tasks/s'),
          pm2: NO_PM2(),
          ref: { label, ...col(pools[refName], 'tasks/s') },
          note,
        }),
      );
    const med = (name) => Math.round(summarize(pools[name].map((x) => x['tasks/s'])).median);
    poolRow(
      'piscina (threads)',
      'piscina (threads)',
      `${ctx.quick ? '10,000' : '30,000'} tasks (x → x * 2) submitted at once after a warm-up, ${data.poolSize} workers each; worker_threads pay no process hop but share one process's heap and crash together. ` +
        `Same runs: workerpool (threads) ${med('workerpool (threads)')} tasks/s; pm-native Pool with concurrency 8 per worker ${med('pm-native Pool, concurrency 8')} tasks/s`,
    );
    poolRow('child_process pool (hand-written)', 'child_process pool (hand-written)', 'the same runs: child_process.fork workers, one task in flight each, a plain FIFO');
    return { rows };
  },
};
