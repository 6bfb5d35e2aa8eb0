'use strict';
// 11. Message queues: jobs/s push → consume → ack, 1 producer and 4 consumer processes, small
// JSON jobs. pm-native's daemon-brokered queue and its Redis transport against the plain
// LPUSH / BRPOP loop written by hand with the `redis` client, and BullMQ on the same Redis.
// pm2 has no queue, so its column is empty. The measuring lives in examples/queue/bench.js
// (which installs `redis` and `bullmq` into its temp dir at run time and starts its own
// redis-servers); here it runs in a child process with --json. Run alone: --only queue.

const path = require('path');
const { row, skipped } = require('../measure');

const SCENARIO = '11 queue';
const ROOT = path.join(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'examples', 'queue', 'bench.js');
const NO_PM2 = () => skipped('pm2 has no message queue');

module.exports = {
  id: 'queue',
  title: 'Queues: local and Redis transports vs a hand-written LPUSH/BRPOP loop and BullMQ',
  async run(ctx) {
    const args = [SCRIPT, '--json', ...(ctx.quick ? ['--quick'] : [])];
    const h = ctx.lab.spawnChild(process.execPath, args, { env: ctx.lab.baseEnv(), cwd: ROOT });
    const deadline = setTimeout(() => ctx.lab.stopChild(h), 15 * 60 * 1000);
    const r = await h.done;
    clearTimeout(deadline);
    if (r.code !== 0) throw new Error(`examples/queue/bench.js exited ${r.code ?? r.signal}: ${String(r.stderr).trim().split('\n').pop()}`);
    const data = JSON.parse(String(r.stdout).trim().split('\n').pop());
    const col = (kind) => (data.results[kind] ? { samples: data.results[kind].map((x) => x['jobs/s']) } : skipped(data.errors[kind] || 'not run'));
    const note = `${data.jobs} jobs of ~50 bytes, ${data.consumers} consumer processes (concurrency ${data.concurrency}; the hand loop takes one job at a time per consumer), 1 producer`;
    const rows = [
      row({
        scenario: SCENARIO,
        metric: 'local queue jobs/s vs hand-written Redis LPUSH/BRPOP',
        unit: 'jobs/s',
        better: 'higher',
        pm: col('local'),
        pm2: NO_PM2(),
        ref: { label: 'redis LPUSH/BRPOP loop', ...col('redis-loop') },
        refTarget: { op: '>=', value: 2.0, text: '≥ 2× the hand-written Redis loop' },
        note: `${note}; the local queue fsyncs every acknowledged push (group commit)`,
      }),
      row({
        scenario: SCENARIO,
        metric: 'Redis transport jobs/s vs BullMQ',
        unit: 'jobs/s',
        better: 'higher',
        pm: col('redis'),
        pm2: NO_PM2(),
        ref: { label: 'BullMQ', ...col('bullmq') },
        refTarget: { op: '>=', value: 1.0, text: '≥ 1× BullMQ' },
        note: `${note}; both at-least-once with acks`,
      }),
    ];
    return { rows };
  },
};
