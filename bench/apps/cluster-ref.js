'use strict';
// Reference for cluster mode: Node's own `cluster` primary with N workers running http.js
// (Node's default scheduling: round-robin on Linux, the primary accepts every connection).
// SIGTERM kills the workers and exits.
// SIGUSR2 does the textbook rolling restart, one worker at a time: fork a new worker, wait for its
// 'listening', then `disconnect()` the old one and wait for it to exit. When all are replaced it
// writes "reloaded <ms>\n" to stdout. A second SIGUSR2 during a restart is ignored.
const cluster = require('cluster');
const path = require('path');

if (cluster.isPrimary) {
  const n = Number(process.argv[2]) || 2;
  cluster.setupPrimary({ exec: path.join(__dirname, 'http.js') });
  for (let i = 0; i < n; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
    process.exit(0);
  });

  let reloading = false;
  process.on('SIGUSR2', async () => {
    if (reloading) return;
    reloading = true;
    const t0 = process.hrtime.bigint();
    for (const old of Object.values(cluster.workers)) {
      const fresh = cluster.fork();
      // Bounded like a process manager's listen_timeout: an old worker goes after 3 s regardless.
      await new Promise((resolve) => {
        const t = setTimeout(resolve, 3000);
        fresh.once('listening', () => resolve(clearTimeout(t)));
      });
      await new Promise((resolve) => {
        const t = setTimeout(() => {
          old.process.kill('SIGKILL');
          resolve();
        }, 5000);
        old.once('exit', () => resolve(clearTimeout(t)));
        old.disconnect();
      });
    }
    reloading = false;
    process.stdout.write(`reloaded ${Number(process.hrtime.bigint() - t0) / 1e6}\n`);
  });
}
