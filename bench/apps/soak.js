'use strict';
// The soak app: a log line on each stream every 100 ms, then an exit with code 1 after
// SOAK_LIFE_MS (± 50%), so the process manager restarts it, over and over, for the whole soak.
const life = Number(process.env.SOAK_LIFE_MS) || 6000;
const until = Date.now() + life * (0.5 + Math.random());
let n = 0;
setInterval(() => {
  n++;
  console.log(`soak out ${n} ${'x'.repeat(60)}`);
  if (n % 10 === 0) console.error(`soak err ${n}`);
  if (Date.now() > until) process.exit(1);
}, 100);
