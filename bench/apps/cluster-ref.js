'use strict';
// Reference for cluster mode: Node's own `cluster` primary with N workers running http.js.
// SIGTERM kills the workers and exits.
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
}
