#!/usr/bin/env node
'use strict';
// Queue throughput: jobs/s push → consume → ack, 1 producer process and 4 consumer processes,
// small JSON jobs, for
//   local        queue('jobs') brokered by the pm-native daemon
//   redis        queue('jobs', { redis }) (reliable: per-consumer processing lists, acks)
//   redis-loop   the plain pattern by hand with the `redis` npm client: LPUSH / BRPOP (no acks)
//   bullmq       BullMQ Queue.add / Worker on the same Redis
// Every contender runs against its own fresh redis-server (127.0.0.1, a free port, no
// persistence) or daemon home, all under one temp dir removed at the end. `redis` and `bullmq`
// are installed into that temp dir at run time (they are not dependencies of pm-native).
//
//   node examples/queue/bench.js [--quick] [--json] [--only local,redis]

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync, fork } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const ARGS = process.argv.slice(2);
const QUICK = ARGS.includes('--quick');
const JSON_OUT = ARGS.includes('--json');
const onlyArg = ARGS.find((a) => a.startsWith('--only='));
const ONLY = onlyArg ? onlyArg.slice(7).split(',') : null;
const JOBS = QUICK ? 20000 : 50000;
const REPS = QUICK ? 2 : 3;
const CONSUMERS = 4;
const CONCURRENCY = 16;
const IN_FLIGHT_PUSHES = 512;

const log = (...a) => console.error(...a);

// ------------------------------------------------------------------ the child process roles

async function producer(kind, n, url, deps) {
  const job = (i) => ({ id: i, file: `img-${i}.png`, size: 1024 });
  let push, done;
  if (kind === 'local' || kind === 'redis') {
    const { queue } = require(ROOT);
    const q = queue('jobs', kind === 'redis' ? { redis: url, maxLength: 10 * n } : { maxLength: 10 * n });
    push = (i) => q.push(job(i));
    done = () => q.close();
  } else if (kind === 'redis-loop') {
    const { createClient } = require(path.join(deps, 'node_modules', 'redis'));
    const c = createClient({ url });
    await c.connect();
    push = (i) => c.lPush('jobs', JSON.stringify(job(i)));
    done = () => c.quit();
  } else if (kind === 'bullmq') {
    const { Queue } = require(path.join(deps, 'node_modules', 'bullmq'));
    const q = new Queue('jobs', { connection: { url }, defaultJobOptions: { removeOnComplete: true } });
    push = (i) => q.add('j', job(i));
    done = () => q.close();
  }
  let next = 0;
  const lane = async () => {
    while (next < n) await push(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT_PUSHES }, lane));
  await done();
}

async function consumer(kind, url, deps) {
  let count = 0;
  const report = setInterval(() => process.send({ count }), 20);
  process.on('disconnect', () => process.exit(0));
  if (kind === 'local' || kind === 'redis') {
    const { queue } = require(ROOT);
    const q = queue('jobs', kind === 'redis' ? { redis: url } : {});
    q.process(
      (d) => {
        if (typeof d.id !== 'number') throw new Error('bad job');
        count++;
      },
      { concurrency: CONCURRENCY },
    );
    process.send({ ready: true });
  } else if (kind === 'redis-loop') {
    const { createClient } = require(path.join(deps, 'node_modules', 'redis'));
    const c = createClient({ url });
    await c.connect();
    process.send({ ready: true });
    for (;;) {
      const r = await c.brPop('jobs', 0);
      const d = JSON.parse(r.element);
      if (typeof d.id !== 'number') throw new Error('bad job');
      count++;
    }
  } else if (kind === 'bullmq') {
    const { Worker } = require(path.join(deps, 'node_modules', 'bullmq'));
    const w = new Worker(
      'jobs',
      async (j) => {
        if (typeof j.data.id !== 'number') throw new Error('bad job');
        count++;
      },
      { connection: { url, maxRetriesPerRequest: null }, concurrency: CONCURRENCY, removeOnComplete: { count: 0 } },
    );
    await w.waitUntilReady();
    process.send({ ready: true });
  }
  void report;
}

// ------------------------------------------------------------------ the orchestrator

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startRedis(tmp) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmp, 'redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end('PING\r\n');
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return { url, child };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

function installDeps(tmp) {
  const deps = path.join(tmp, 'deps');
  fs.mkdirSync(deps, { recursive: true });
  fs.writeFileSync(path.join(deps, 'package.json'), '{"private":true}');
  log('installing redis and bullmq into the temp dir...');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'redis@5', 'bullmq@5'], { cwd: deps, encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) return { deps, error: `npm install redis bullmq failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  return { deps, error: null };
}

async function runOnce(kind, tmp, deps) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  let redis = null;
  let home = null;
  if (kind === 'local') {
    home = fs.mkdtempSync(path.join(tmp, 'home-'));
    env.PM_HOME = home;
  } else redis = await startRedis(tmp);
  const url = redis ? redis.url : '';
  const script = __filename;
  const children = [];
  try {
    const counts = new Array(CONSUMERS).fill(0);
    const ready = [];
    for (let i = 0; i < CONSUMERS; i++) {
      const c = fork(script, ['--role=consumer', `--kind=${kind}`, `--url=${url}`, `--deps=${deps}`], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.push(c);
      ready.push(
        new Promise((resolve, reject) => {
          c.on('message', (m) => {
            if (m.ready) resolve();
            if (m.count !== undefined) counts[i] = m.count;
          });
          c.on('exit', (code) => reject(new Error(`a ${kind} consumer exited ${code}`)));
        }),
      );
    }
    await Promise.all(ready);
    const t0 = process.hrtime.bigint();
    const p = fork(script, ['--role=producer', `--kind=${kind}`, `--url=${url}`, `--deps=${deps}`, `--n=${JOBS}`], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(p);
    const deadline = Date.now() + 5 * 60 * 1000;
    while (counts.reduce((a, b) => a + b, 0) < JOBS) {
      if (Date.now() > deadline) throw new Error(`${kind}: only ${counts.reduce((a, b) => a + b, 0)} of ${JOBS} jobs after 5 minutes`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return { 'jobs/s': JOBS / secs, perConsumer: [...counts] };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (redis) redis.child.kill('SIGKILL');
    if (home) {
      spawnSync(path.join(ROOT, 'bin', 'pm'), ['kill'], { env, timeout: 20000 });
    }
  }
}

async function main() {
  const role = ARGS.find((a) => a.startsWith('--role='));
  const arg = (k) => (ARGS.find((a) => a.startsWith(`--${k}=`)) || '').slice(k.length + 3);
  if (role) {
    if (arg('role') === 'producer') {
      await producer(arg('kind'), Number(arg('n')), arg('url'), arg('deps'));
      process.exit(0);
    }
    return consumer(arg('kind'), arg('url'), arg('deps'));
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-queue-bench-'));
  const kinds = (ONLY || ['local', 'redis', 'redis-loop', 'bullmq']).filter(Boolean);
  const results = {};
  const errors = {};
  try {
    const needsDeps = kinds.some((k) => k === 'redis-loop' || k === 'bullmq');
    const { deps, error } = needsDeps ? installDeps(tmp) : { deps: '', error: null };
    for (let rep = 0; rep < REPS; rep++) {
      // Alternating contenders within a repetition, so background load hits all of them.
      for (const kind of kinds) {
        if ((kind === 'redis-loop' || kind === 'bullmq') && error) {
          errors[kind] = error;
          continue;
        }
        try {
          const r = await runOnce(kind, tmp, deps);
          (results[kind] = results[kind] || []).push(r);
          log(`${kind.padEnd(11)} rep ${rep + 1}: ${Math.round(r['jobs/s'])} jobs/s (per consumer ${r.perConsumer.join('/')})`);
        } catch (e) {
          errors[kind] = e.message;
          log(`${kind}: ${e.message}`);
        }
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const out = { jobs: JOBS, consumers: CONSUMERS, concurrency: CONCURRENCY, results, errors };
  if (JSON_OUT) console.log(JSON.stringify(out));
  else {
    for (const [k, v] of Object.entries(results)) {
      const s = v.map((x) => x['jobs/s']).sort((a, b) => a - b);
      console.log(`${k.padEnd(11)} median ${Math.round(s[Math.floor(s.length / 2)])} jobs/s  (${s.map(Math.round).join(', ')})`);
    }
    for (const [k, e] of Object.entries(errors)) console.log(`${k}: ${e}`);
  }
}

main().catch((e) => {
  console.error(e.stack || e.message);
  process.exit(1);
});
