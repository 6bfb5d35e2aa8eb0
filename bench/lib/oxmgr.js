'use strict';
// OxMgr, a Rust process manager (github.com/Vladimir-Urik/OxMgr), as a third column beside
// pm-native and pm2. It is built from source with cargo inside the run's temporary root, once per
// run and only when a selected scenario shows it. A clone or build that fails (no network, no
// cargo) does not fail the run: every OxMgr figure is then "skipped" and one note says why.
//
// PMBENCH_OXMGR_BIN=<binary>  use this build (repeated runs skip the few minutes of cargo)
// PMBENCH_OXMGR_SRC=<git url or local path>  clone this instead of GitHub (e.g. a local mirror)
// PMBENCH_OXMGR=0 or --no-oxmgr  leave OxMgr out

const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const { OxmgrTool } = require('./tools');
const { killAll, killPid, pidsWithEnv } = require('./proc');
const { side, skipped } = require('./measure');

const DEFAULT_SRC = 'https://github.com/Vladimir-Urik/OxMgr.git';
const LABEL = 'OxMgr';
const CLONE_TIMEOUT_MS = 5 * 60 * 1000;
const BUILD_TIMEOUT_MS = 30 * 60 * 1000; // a cold release build with LTO takes ~3 min on 2 cores

/** The last line of a command's output that says something, for a one-line note. */
function lastLine(text) {
  const lines = String(text || '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const err = lines.filter((l) => /^(error|fatal)\b/i.test(l));
  return (err.length ? err[err.length - 1] : lines[lines.length - 1] || '').slice(0, 160);
}

/**
 * Runs a command under the Lab (so Ctrl-C and the final sweep reach it and its children) with a
 * time limit; resolves to { code, stdout, stderr, error }.
 */
async function runStep(lab, cmd, args, { cwd, env, timeoutMs, sweepNeedle }) {
  const h = lab.spawnChild(cmd, args, { cwd, env });
  const timer = setTimeout(() => {
    killPid(h.pid, 'SIGKILL');
    if (sweepNeedle) killAll(pidsWithEnv(sweepNeedle)); // cargo's rustc children
  }, timeoutMs);
  const r = await h.done;
  clearTimeout(timer);
  if (r.signal === 'SIGKILL' && !r.error) r.error = new Error(`timed out after ${timeoutMs / 60000} min`);
  return r;
}

function why(step, r) {
  if (r.error) return `${step} failed: ${r.error.code === 'ENOENT' ? `${step.split(' ')[0]} not found` : r.error.message}`;
  return `${step} failed: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.code}`}`;
}

function versionOf(bin, env) {
  const r = cp.spawnSync(bin, ['--version'], { encoding: 'utf8', env, timeout: 10000 });
  return (r.stdout || '').trim().replace(/^oxmgr\s+/, '') || null;
}

/**
 * Makes OxMgr available for this run. Returns { tool, version, source } when it can be driven,
 * or { tool: null, note } with the one-line reason.
 */
async function prepare(lab, { disabled = false, log = () => {} } = {}) {
  if (disabled) return { tool: null, note: `${LABEL}: skipped (--no-oxmgr or PMBENCH_OXMGR=0)` };
  const env = lab.baseEnv();
  let bin = process.env.PMBENCH_OXMGR_BIN;
  let source;
  if (bin) {
    bin = path.resolve(bin);
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch (e) {
      return { tool: null, note: `${LABEL}: not usable (PMBENCH_OXMGR_BIN=${bin}: ${e.code || e.message})` };
    }
    source = bin;
  } else {
    const src = process.env.PMBENCH_OXMGR_SRC || DEFAULT_SRC;
    // A local path as a file:// URL, or git ignores --depth.
    const url = fs.existsSync(src) ? `file://${path.resolve(src)}` : src;
    const dir = path.join(lab.root, 'oxmgr-src');
    const target = path.join(lab.root, 'oxmgr-target');
    log(`  OxMgr: git clone --depth 1 ${src}`);
    const clone = await runStep(lab, 'git', ['clone', '--quiet', '--depth', '1', url, dir], {
      env: { ...env, GIT_TERMINAL_PROMPT: '0' },
      timeoutMs: CLONE_TIMEOUT_MS,
    });
    if (lab.aborted) return { tool: null, note: `${LABEL}: not built (aborted)` };
    if (clone.code !== 0) return { tool: null, note: `${LABEL}: not built (${why('git clone', clone)})` };
    const commit = cp.spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    log(`  OxMgr: cargo build --release (${commit}; a few minutes)`);
    const t0 = Date.now();
    const build = await runStep(lab, 'cargo', ['build', '--release', '--bin', 'oxmgr'], {
      cwd: dir,
      env: { ...env, CARGO_TARGET_DIR: target },
      timeoutMs: BUILD_TIMEOUT_MS,
      sweepNeedle: `CARGO_TARGET_DIR=${target}`,
    });
    if (lab.aborted) return { tool: null, note: `${LABEL}: not built (aborted)` };
    if (build.code !== 0) return { tool: null, note: `${LABEL}: not built (${why('cargo build', build)})` };
    bin = path.join(target, 'release', 'oxmgr');
    if (!fs.existsSync(bin)) return { tool: null, note: `${LABEL}: not built (cargo build left no ${bin})` };
    source = `${src} @ ${commit}`;
    log(`  OxMgr: built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${bin}${lab.keep ? ' (kept: PMBENCH_OXMGR_BIN=<it> skips the build next time)' : ''}`);
  }
  const version = versionOf(bin, env);
  if (!version) return { tool: null, note: `${LABEL}: not usable (${bin} --version printed nothing)` };
  return { tool: new OxmgrTool({ bin, version }), version, source };
}

/** The OxMgr side of a row: its samples, or "skipped" when it could not be built. */
function oxSide(ctx, samples, errors = []) {
  return { label: LABEL, ...(ctx.oxmgr ? side(samples, errors) : skipped(ctx.oxmgrNote)) };
}

/** oxSide() from an interleave() result. */
function oxFromRun(ctx, run, key = 'oxmgr') {
  return oxSide(ctx, run.samples[key], run.errors[key]);
}

/** The tools a scenario runs: pm and pm2, and OxMgr when it is there. */
function toolsOf(ctx) {
  return ctx.oxmgr ? [ctx.pm, ctx.pm2, ctx.oxmgr] : [ctx.pm, ctx.pm2];
}

module.exports = { prepare, oxSide, oxFromRun, toolsOf, LABEL, DEFAULT_SRC };
