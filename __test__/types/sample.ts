// Compiled (not run) by library-types.test.js: a user's view of every public API.
import pm2, { fork, Pool, PM2, Bus, ProcessDescription, SupervisedChild, binPath, version } from 'pm-native';
import * as pmNative from 'pm-native';

// fork(): a ChildProcess look-alike with a restart policy.
const child: SupervisedChild = fork('worker.js', ['--x'], {
  env: { ...process.env, MODE: 'test' },
  cwd: __dirname,
  execArgv: ['--max-old-space-size=128'],
  restart: 'on-failure',
  maxRestarts: 5,
  killTimeout: 1600,
  maxQueue: 100,
  silent: true,
});
const ok: boolean = child.send({ hello: 'world' }, (err) => {
  if (err) console.error(err.message);
});
child.on('message', (m) => console.log(m));
child.on('restart', (code, signal, info) => console.log(code, signal, info.delay, info.restarts));
child.on('exit', (code, signal) => console.log(code, signal));
child.on('error', (e) => console.log(e.code));
child.stdout?.on('data', (d: Buffer) => d.length);
const pid: number | undefined = child.pid;
child.kill('SIGTERM');
child.unref().ref();
async function stopIt(): Promise<number | null> {
  const { code } = await child.stop();
  return code;
}
fork('other.js', { silent: false }).disconnect();

// Pool
const pool = new Pool<number, number>('task.js', { size: 'cpu', maxQueue: 1000, retry: 1, concurrency: 2 });
async function usePool(): Promise<number> {
  const n: number = await pool.run(21);
  await pool.close();
  return n + pool.size + pool.queueSize + pool.completed;
}
new Pool('x.js', { size: 4, env: process.env });

// pm2's documented example, callback style.
pm2.connect((err) => {
  if (err) process.exit(2);
  pm2.start({ script: 'api.js', name: 'api', exec_mode: 'cluster', instances: 4, max_memory_restart: '100M' }, (err, apps) => {
    if (err) return pm2.disconnect();
    pm2.list((err, list: ProcessDescription[]) => {
      console.log(list.map((p) => [p.name, p.pm_id, p.pm2_env.status, p.monit.memory]));
      pm2.restart('api', () => pm2.disconnect());
    });
  });
});

// The bus and the rest, promise style.
async function promises(): Promise<void> {
  const api = new PM2({ pm2_home: '/tmp/pm-home' });
  const bus: Bus = await api.launchBus();
  bus.on('process:event', (p) => console.log(p.event, p.process.name));
  bus.on('log:out', (p) => console.log(p.data.toUpperCase()));
  bus.on('log:*', (type: string, p: { data: string }) => console.log(type, p.data));
  bus.on('process:msg', (p) => console.log(p.process.pm_id, p.data));
  const procs = await api.start('app.js', { name: 'app', instances: 2 });
  await api.sendDataToProcessId(procs[0].pm_id, { type: 'process:msg', data: { x: 1 }, topic: true });
  api.sendDataToProcessId({ id: 0, type: 'process:msg', data: 1, topic: 'go' }, (err, res) => res.success);
  await api.stop('app');
  await api.restart('app', { updateEnv: true });
  await api.reload('app');
  await api.describe(0);
  await api.flush('app');
  await api.reloadLogs();
  await api.sendSignalToProcessName('SIGUSR2', 'app');
  await api.dump(true);
  bus.on('process:exception', (p) => console.log(p.process.name, p.data.message, p.data.stack));
  bus.on('pm2:kill', (p) => console.log(p.status, p.msg));
  const pong: { msg: string } = await api.ping();
  await api.scale('app', '+1');
  api.scale('app', 2, (err, res) => res.success);
  await api.sendLineToStdin(procs[0].pm_id, 'hello');
  api.sendLineToStdin(0, 'hello', '\r\n', (err, list) => list.length);
  const ids: number[] = await api.getProcessIdByName('app');
  api.getProcessIdByName('app', (err, found, details) => details[found[0]].name);
  const pids: number[] = await api.getPID('app');
  api.getPID((err, all) => all.length);
  api.trigger('app', 'refresh', (err) => err && err.message);
  await api.set('pm2-logrotate:max_size', '10M');
  const conf = await api.get('pm2-logrotate:max_size');
  console.log(pong.msg, ids, pids, conf.output);
  await api.clearDump();
  await api.resurrect();
  api.startup('systemd', { user: 'app' }, (err, res) => res.output);
  await api.update();
  await api.delete('app');
  await api.killDaemon();
  bus.close();
  await api.disconnect();
}

const also: typeof pm2.start = pmNative.start;
const scaleTop: typeof pm2.scale = pmNative.scale;
const names: string[] = [binPath, version(), String(pmNative.protocolVersion())];
new pmNative.custom({ pm2_home: '/tmp/x' }).list().then((l) => l.length);

async function useQueue(): Promise<number> {
  const q = pmNative.queue<{ file: string }>('jobs', { maxLength: 10, maxPayload: 1024 });
  const id: number | string = await q.push({ file: 'a.png' }, { priority: 1, delay: 0 });
  for await (const job of q.consume({ concurrency: 4 })) {
    const f: string = job.data.file;
    if (f) await job.ack();
    else await job.nack({ deadLetter: true });
    break;
  }
  const r = pmNative.queue('x', { redis: 'redis://127.0.0.1:6379', mode: 'list' });
  r.process(async (d) => d, { concurrency: 2 });
  new pmNative.Pool('w.js', { size: 'io', queue: 'jobs' });
  return (await q.stats()).ready + Number(id);
}

export { ok, pid, stopIt, usePool, promises, also, names, useQueue };
