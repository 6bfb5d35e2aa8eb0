// A small HTTP app for trying pm-native: `npx pm start examples/app.js --name web`.
const http = require('http');

const port = Number(process.env.PORT) || 0;
const server = http.createServer((req, res) => {
  res.end(`hello from ${process.pid} (instance ${process.env.NODE_APP_INSTANCE})\n`);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGINT', () => server.close(() => process.exit(0)));
