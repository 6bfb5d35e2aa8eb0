'use strict';
// A minimal HTTP app on 127.0.0.1:$PORT that answers with its own pid (so a probe can tell a
// restarted process from the old one).
const http = require('http');

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('http.js: PORT must be set');
  process.exit(2);
}
const body = String(process.pid);
http.createServer((req, res) => res.end(body)).listen(port, '127.0.0.1');
