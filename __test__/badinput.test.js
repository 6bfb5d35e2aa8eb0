'use strict';
// Bad input fails once, clearly: exit code 1, exactly one line on stderr that says what is wrong,
// and nothing else changes — the app `keeper`, started first, stays online with the same pid.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { makeCtx } = require('./helpers');

const ctx = makeCtx();
after(() => ctx.cleanup());

let keeper;

before(async () => {
  ctx.ok(['start', 'idle.js', '--name', 'keeper']);
  [keeper] = await ctx.online('keeper');
  ctx.write('bad.json', '{"apps": [{"name": "x", "script": "idle.js",}\n');
  ctx.write('bad.yml', 'apps:\n  - name: x\n   script: [\n');
  ctx.write('good.json', JSON.stringify({ apps: [{ name: 'x', script: 'idle.js' }] }));
  ctx.write('noscript.json', JSON.stringify({ apps: [{ name: 'y', script: 'nope.js' }] }));
});

// [args, message (regex on the one stderr line), options]
const CASES = [
  [['foo'], /Command not found/],
  [[], /no command given/],
  [['stop', 'nosuch'], /Process or Namespace nosuch not found/],
  [['restart', '99'], /Process or Namespace 99 not found/],
  [['delete', 'nosuch'], /Process or Namespace nosuch not found/],
  [['reset', 'nosuch'], /nosuch not found/],
  [['stop', '/[/'], /invalid regex/],
  [['start', 'missing.js'], () => new RegExp(`Script not found: ${path.join(ctx.apps, 'missing.js')}$`)],
  [['start', 'idle.js', '-i', 'abc'], /instances.*"abc"/],
  [['start', 'idle.js', '--instances', '99999'], /instances.*99999/],
  [['start', 'idle.js', '--max-memory-restart', '12XB'], /max-memory-restart.*12XB/],
  [['start', 'idle.js', '--max-memory-restart', '-5M'], /--max-memory-restart: "-5M" is not a memory size/],
  [['start', 'idle.js', '--kill-timeout', 'abc'], /kill-timeout.*"abc"/],
  [['start', 'idle.js', '--restart-delay', '-1'], /--restart-delay must be a whole number.*"-1"/],
  [['start', 'idle.js', '--cron-restart', 'not a cron'], /cron.*not a cron/],
  [['start', 'idle.js', '--log-type', 'xml'], /log-type.*xml/],
  [['start', 'idle.js', '--kill-signal', 'SIGNOPE'], /SIGNOPE/],
  [['start', 'idle.js', '--node-args', "--title 'a b"], /^\[PM2\]\[ERROR\] --node-args: cannot split "--title 'a b" into words: a quote is not closed/],
  [['start', 'bad.json'], /bad\.json.*JSON/],
  [['start', 'bad.yml'], /bad\.yml.*YAML/],
  [['start', 'noscript.json'], /Script not found.*nope\.js/],
  [['start', 'good.json', '--only', 'nosuch'], /--only nosuch.*no app named "nosuch"/],
  [['start', '-'], /invalid JSON on stdin/, { input: '[{"name": ' }],
  [['delete', '-'], /invalid JSON on stdin/, { input: 'not json' }],
  [['start', '/dev/null'], /Script is not a regular file: \/dev\/null$/],
  [['start', 'idle.js', '--name', 'keeper'], /Script already launched/],
  [['sendSignal', 'SIGFOO', 'keeper'], /Unknown signal: SIGFOO/],
  [['sendSignal', 'SIGUSR2', 'nosuch'], /nosuch/],
  [['stop'], /required.*(<TARGETS>|\btargets?\b|\bid\b)/i],
  [['describe'], /required.*(<TARGET>|\btarget\b|\bname\b|\bid\b)/i],
  [['start', 'idle.js', '--foo-bar'], /--foo-bar/],
  [['describe', 'nosuch'], /nosuch doesn't exist/],
];

for (const [args, msg, opts = {}] of CASES) {
  test(`pm ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ') || '(no arguments)'}`, () => {
    const r = ctx.pm(args, opts);
    assert.equal(r.status, 1, `exit code; stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const errLines = r.stderr.trim() === '' ? [] : r.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, `exactly one line on stderr, got ${JSON.stringify(r.stderr)} (stdout ${JSON.stringify(r.stdout.slice(0, 200))})`);
    assert.match(errLines[0], typeof msg === 'function' ? msg() : msg);
    assert.equal(r.stdout.includes(errLines[0]), false, 'the error is printed once, not also on stdout');

    const list = ctx.jlist();
    assert.deepEqual(
      list.map((p) => [p.name, p.pm2_env.status, p.pid]),
      [['keeper', 'online', keeper.pid]],
      'keeper still the only app, online, same pid',
    );
  });
}
