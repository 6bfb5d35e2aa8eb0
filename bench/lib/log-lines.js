'use strict';
// What the log scenarios share: the writer app's fixed-width lines, counted back out of the
// files a tool wrote them to, and the writer's ready file.

const fs = require('fs');
const path = require('path');
const { waitFor, isAlive, killAll } = require('./proc');

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

/**
 * Runs the writer under `tool` as app `name` in `home`, resolves to `measure(pid, dir)`, then
 * deletes the app and its log files (rotated ones too).
 */
async function underTool(ctx, tool, home, name, lines, measure) {
  const dir = ctx.lab.dir('ready');
  let pid = null;
  try {
    tool.run(home, ['start', WRITER, '--name', name], { env: { READY_DIR: dir, LOG_LINES: String(lines) } });
    pid = await writerPid(dir);
    return await measure(pid, dir);
  } finally {
    tool.run(home, ['delete', name], { check: false, timeoutMs: 30000 });
    if (pid && !(await waitFor(() => !isAlive(pid), { timeoutMs: 5000 }))) killAll([pid]);
    const logDir = path.join(home, 'logs');
    for (const f of fs.readdirSync(logDir)) if (f.startsWith(`${name}-`)) fs.rmSync(path.join(logDir, f), { force: true });
  }
}

/** Runs the writer with its stdout a file `<dir>/<fileName>`; resolves to `measure(pid, dir, file)`. */
async function redirected(ctx, fileName, lines, measure) {
  const dir = ctx.lab.dir('ready');
  const file = path.join(dir, fileName);
  const fd = fs.openSync(file, 'w');
  const h = ctx.lab.spawnChild(process.execPath, [WRITER], { env: { ...ctx.lab.baseEnv(), READY_DIR: dir, LOG_LINES: String(lines) }, stdio: ['ignore', fd, 'ignore'] });
  fs.closeSync(fd);
  try {
    return await measure(await writerPid(dir), dir, file);
  } finally {
    await ctx.lab.stopChild(h);
    fs.rmSync(file, { force: true });
  }
}

module.exports = { WRITER, LINE_BYTES, countLines, fileSize, writerPid, underTool, redirected };
