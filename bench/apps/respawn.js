'use strict';
// The reference supervisor for restart latency: the least a supervisor can do. It spawns
// `node <script>` and spawns it again as soon as it exits. SIGTERM stops it and its child.
const { spawn } = require('child_process');

const script = process.argv[2];
let child = null;
let stopping = false;

function start() {
  child = spawn(process.execPath, [script], { stdio: 'inherit' });
  child.on('exit', () => {
    if (!stopping) start();
  });
}

process.on('SIGTERM', () => {
  stopping = true;
  if (child) child.kill('SIGKILL');
  process.exit(0);
});
start();
