'use strict';
// Grows past its max_memory_restart when sent SIGUSR2 (96 MiB, written so the pages are resident)
// and stays there: the manager must notice and restart it. Idle otherwise.
process.on('SIGUSR2', () => {
  global.hog = Buffer.alloc(96 << 20, 1);
});
setInterval(() => {}, 1 << 30);
