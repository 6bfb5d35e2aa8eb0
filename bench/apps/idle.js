'use strict';
// An idle app: one long timer and nothing else. With READY_DIR set it announces itself by
// creating READY_DIR/<pid> once it runs, so the bench can see that it started without asking
// the process manager.
const fs = require('fs');
const path = require('path');

if (process.env.READY_DIR) {
  try {
    fs.writeFileSync(path.join(process.env.READY_DIR, String(process.pid)), '');
  } catch {}
}
setInterval(() => {}, 1 << 30);
