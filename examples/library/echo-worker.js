'use strict';
// Echoes every message back: the far end of the IPC benchmark (unchanged for either fork).
process.on('message', (m) => process.send(m));
