'use strict';
// The worker of the hand-written child_process pool in bench.js: same work, same envelope size.
process.on('message', (m) => process.send({ id: m.id, v: m.d + 1 }));
