'use strict';
// What the log scenarios share: the writer app's fixed-width lines, counted back out of the
// files a tool wrote them to, and the writer's ready file.

const fs = require('fs');
const path = require('path');
const { waitFor } = require('./proc');

const WRITER = path.join(__dirname, '..', 'apps', 'log-writer.js');
const LINE_BYTES = 80;

/**
 * Counts the writer's lines 0..lines-1 across `files`: `valid` distinct well-formed ones,
 * `dup` well-formed ones seen before (a line a rotation wrote twice), `total` newlines.
 */
function countLines(files, lines) {
  const seen = new Uint8Array(lines);
  let valid = 0;
  let dup = 0;
  let total = 0;
  for (const file of files) {
    const text = fs.readFileSync(file, 'latin1');
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      total++;
      if (nl - start === LINE_BYTES - 1 && text.charCodeAt(start + 9) === 32) {
        const n = Number(text.slice(start, start + 9));
        if (Number.isInteger(n) && n >= 0 && n < lines) {
          if (seen[n]) dup++;
          else {
            seen[n] = 1;
            valid++;
          }
        }
      }
      start = nl + 1;
    }
  }
  return { valid, dup, total };
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Waits for the writer's ready file and returns its pid. */
async function writerPid(dir) {
  const f = await waitFor(() => fs.readdirSync(dir).find((x) => /^\d+$/.test(x)), { timeoutMs: 15000, intervalMs: 5 });
  if (!f) throw new Error('log writer did not start');
  return Number(f);
}

module.exports = { WRITER, LINE_BYTES, countLines, fileSize, writerPid };
