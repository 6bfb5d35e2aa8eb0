#!/usr/bin/env node
'use strict';
// pm-native vs pm2 (and OxMgr, where it has the operation) benchmark. `npm run bench` (full,
// ~10 min) or `npm run bench -- --quick` (≤ 3 min). See bench/README.md. Every daemon runs in its
// own temporary home, traffic stays on 127.0.0.1, and everything started is stopped by pid at
// the end (also on Ctrl-C).

const path = require('path');
const { Lab } = require('./lib/tools');
const { Fleets } = require('./lib/fleet');
const { pidsWithEnv, killAll } = require('./lib/proc');
const report = require('./lib/report');
const oxmgr = require('./lib/oxmgr');

// In this order the 20-app fleets grow into the 50-app ones, and the fleets are gone before the
// scenarios that time start-ups run.
const SCENARIOS = [
  require('./lib/scenarios/cli-latency'),
  require('./lib/scenarios/observe'),
  require('./lib/scenarios/daemon-rss'),
  require('./lib/scenarios/app-overhead'),
  require('./lib/scenarios/idle-cpu'),
  require('./lib/scenarios/cold-start'),
  require('./lib/scenarios/start-many'),
  require('./lib/scenarios/restart-latency'),
  require('./lib/scenarios/log-throughput'),
  require('./lib/scenarios/log-rotation'),
  require('./lib/scenarios/cluster'),
  require('./lib/scenarios/library'),
  require('./lib/scenarios/fleet-scale'),
  require('./lib/scenarios/preload'),
  require('./lib/scenarios/queue'),
  require('./lib/scenarios/daemon-kill'),
  require('./lib/scenarios/soak'),
];

const USAGE = `usage: node bench/run.js [--quick] [--only <id>[,<id>...]] [--save] [--keep] [--no-oxmgr] [--list]
  --quick     3 repetitions and shorter windows (≤ 3 minutes on 2 cores, plus OxMgr's build)
  --only      run only these scenarios (ids from --list); results are printed, not saved
  --save      with --only: write the results files anyway
  --keep      keep the temporary homes (logs) after the run
  --no-oxmgr  leave OxMgr out (also PMBENCH_OXMGR=0); see bench/README.md for PMBENCH_OXMGR_BIN/_SRC
  --list      list the scenarios (* = with an OxMgr column)`;

function parseArgs(argv) {
  const o = { quick: false, only: null, save: false, keep: false, list: false, noOxmgr: process.env.PMBENCH_OXMGR === '0' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--no-oxmgr') o.noOxmgr = true;
    else if (a === '--save') o.save = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--list') o.list = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new Error('--only needs a scenario id');
      o.only = [...(o.only || []), ...v.split(',').filter(Boolean)];
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return o;
}

let activeLab = null; // for cleanup when main() fails half-way

function log(...args) {
  console.error(...args);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const s of SCENARIOS) console.log(`${s.id.padEnd(16)} ${s.oxmgr ? '*' : ' '} ${s.title}`);
    return 0;
  }
  let selected = SCENARIOS;
  if (opts.only) {
    const unknown = opts.only.filter((id) => !SCENARIOS.some((s) => s.id === id));
    if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')} (see --list)`);
    selected = SCENARIOS.filter((s) => opts.only.includes(s.id));
  }

  const lab = new Lab({ keep: opts.keep, log });
  activeLab = lab;
  let aborting = false;
  const abort = (why, code) => {
    if (aborting) return;
    aborting = true;
    log(`\n${why}: stopping every daemon and app of this run...`);
    lab.abort().finally(() => {
      const left = pidsWithEnv(lab.marker);
      log(left.length ? `! ${left.length} process(es) survived: ${left.join(' ')}` : 'stopped; nothing left running.');
      process.exit(code);
    });
  };
  process.on('SIGINT', () => abort('SIGINT', 130));
  process.on('SIGTERM', () => abort('SIGTERM', 143));
  process.on('uncaughtException', (e) => {
    log(e);
    abort('crash', 1);
  });

  const started = Date.now();
  const machine = report.machine();
  const versions = { pm: lab.tools.pm.version(), pm2: lab.tools.pm2.version(), pmBinary: lab.tools.pm.fingerprint() };
  log(`pm-native ${versions.pm} (bin/pm ${versions.pmBinary ? versions.pmBinary.sha256 : '?'}) vs pm2 ${versions.pm2}; ${report.describeMachine(machine)}`);
  log(`mode: ${opts.quick ? 'quick' : 'full'}; homes under ${lab.root}`);

  // Built before anything is measured (a cargo build would load the machine) and only when a
  // selected scenario has an OxMgr column.
  let ox = { tool: null, note: null };
  if (selected.some((s) => s.oxmgr)) {
    ox = await oxmgr.prepare(lab, { disabled: opts.noOxmgr, log });
    if (ox.tool) {
      lab.addTool(ox.tool);
      versions.oxmgr = ox.version;
      versions.oxmgrSource = ox.source;
      log(`OxMgr ${ox.version} (${ox.source})`);
    } else log(ox.note);
  }

  const ctx = {
    quick: opts.quick,
    reps: opts.quick ? 3 : 5,
    lab,
    pm: lab.tools.pm,
    pm2: lab.tools.pm2,
    oxmgr: ox.tool, // null when not built: scenarios show its cells as skipped, with oxmgrNote
    oxmgrNote: ox.note,
    fleets: new Fleets(lab, { settleMs: opts.quick ? 1500 : 3000, log }),
    caps: {},
    log,
  };

  const rows = [];
  const aa = [];
  const timings = {};
  for (let i = 0; i < selected.length && !lab.aborted; i++) {
    const s = selected[i];
    const t0 = Date.now();
    log(`▸ ${s.id}: ${s.title}`);
    try {
      const out = await s.run(ctx);
      rows.push(...out.rows);
      if (out.aa) aa.push(...out.aa);
    } catch (e) {
      if (lab.aborted) break;
      log(`  ! ${s.id} failed: ${e.stack || e.message}`);
      rows.push({ scenario: s.id, metric: '(scenario failed)', unit: '', pm: { status: 'failed', note: e.message }, pm2: { status: 'failed', note: e.message } });
    }
    // Homes a scenario left behind (on error, say) go now; fleets stay while someone needs them.
    for (const home of [...lab.homes.keys()]) if (!ctx.fleets.homes.has(home)) await lab.teardown(home);
    const needed = new Set(selected.slice(i + 1).flatMap((x) => x.fleets || []));
    await ctx.fleets.releaseExcept(needed);
    await lab.settle();
    timings[s.id] = (Date.now() - t0) / 1000;
    log(`  done in ${timings[s.id].toFixed(1)} s`);
  }

  if (lab.aborted) await new Promise(() => {}); // the abort handler cleans up and exits; write nothing
  const swept = await lab.cleanupAll();
  activeLab = null;
  const leftover = pidsWithEnv(lab.marker);
  killAll(leftover);
  const cleanup = { sweptByMarker: swept, leftoverAfterCleanup: leftover };
  if (swept.length) log(`! cleanup: the final sweep had to SIGKILL ${swept.length} process(es): ${swept.join(' ')}`);
  if (leftover.length) log(`! cleanup: ${leftover.length} process(es) survived cleanup: ${leftover.join(' ')}`);

  const binaryAfter = lab.tools.pm.fingerprint();
  const binaryChanged = JSON.stringify(binaryAfter) !== JSON.stringify(versions.pmBinary);
  if (binaryChanged) log(`! bin/pm changed during the run (${JSON.stringify(versions.pmBinary)} → ${JSON.stringify(binaryAfter)}): results mix two builds; run again`);

  const result = {
    date: new Date().toISOString().slice(0, 10),
    startedAt: new Date(started).toISOString(),
    durationSec: Number(((Date.now() - started) / 1000).toFixed(1)),
    mode: opts.quick ? 'quick' : 'full',
    only: opts.only,
    machine,
    versions,
    oxmgr: selected.some((s) => s.oxmgr) ? { used: !!ox.tool, note: ox.note || undefined } : undefined,
    rows: report.sortRows(rows).map(report.finalizeRow),
    aa: aa.map(report.finalizeAA),
    timings,
    cleanup,
    warnings: binaryChanged ? [`bin/pm changed during the run (rebuilt?): the results mix two builds`] : [],
  };

  console.log('');
  console.log(report.textTable(result.rows));
  console.log('');
  for (const n of [...report.runNotes(result), ...report.notes(result.rows)]) console.log(`Note: ${n}`);
  console.log('Median (min–max). Ratios are of medians; < 1 = pm-native lower (time, memory, CPU), > 1 = higher (throughput).');
  for (const l of report.aaLines(result.aa)) console.log(`A/A ${l}`);
  console.log(`Cleanup: ${swept.length + leftover.length === 0 ? 'every daemon and app stopped by its tool or by pid; no leftovers' : `${swept.length} swept, ${leftover.length} leftover`}.`);
  for (const w of result.warnings) console.log(`WARNING: ${w}`);
  console.log(`Total ${result.durationSec} s.`);
  if (!opts.only || opts.save) {
    const files = report.writeResults(path.join(__dirname, 'results'), result);
    const readme = path.join(__dirname, '..', 'README.md');
    if (report.embedInReadme(readme, report.markdown(result))) files.push(readme);
    console.log(`Wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  }
  return leftover.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(activeLab ? e.stack || e.message : e.message); // before the run starts: a usage error
    if (!activeLab) process.exit(2);
    activeLab.abort().finally(() => process.exit(2));
  },
);
