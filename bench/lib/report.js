'use strict';
// Turns rows into numbers (summaries, ratios, targets met) and renders them: a text table for the
// terminal, bench/results/*.json, and bench/results/latest.md for the README.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { summarize, ratio, fmtSummary, fmtRatio, sig3 } = require('./stats');

function checkOp(x, op, value) {
  if (x == null) return null;
  return op === '<=' ? x <= value + 1e-12 : x >= value - 1e-12;
}

/** Adds summaries, ratios of medians and target verdicts to a row (in place) and returns it. */
function finalizeRow(r) {
  for (const k of ['pm', 'pm2']) if (r[k] && r[k].samples) r[k].summary = summarize(r[k].samples);
  for (const k of ['ref', 'peer']) if (r[k] && r[k].samples) r[k].summary = summarize(r[k].samples);
  const med = (s) => (s && s.summary ? s.summary.median : null);
  // A ratio of two zero counts (lines lost) says nothing; leave it out.
  const noRatio = r.unit === 'lines' || r.unit === 'count';
  r.ratio = noRatio ? null : ratio(med(r.pm), med(r.pm2));
  r.refRatio = noRatio ? null : ratio(med(r.pm), med(r.ref));
  r.pm2RefRatio = noRatio ? null : ratio(med(r.pm2), med(r.ref));
  if (r.peer) r.peerRatio = noRatio ? null : ratio(med(r.pm), med(r.peer));
  r.verdicts = [];
  if (r.target) r.verdicts.push({ text: r.target.text, met: checkOp(r.ratio, r.target.op, r.target.value) });
  if (r.refTarget) r.verdicts.push({ text: r.refTarget.text, met: checkOp(r.refRatio, r.refTarget.op, r.refTarget.value) });
  if (r.peerTarget) r.verdicts.push({ text: r.peerTarget.text, met: checkOp(r.peerRatio, r.peerTarget.op, r.peerTarget.value) });
  if (r.absTarget) {
    const s = r.pm && r.pm.summary;
    r.verdicts.push({ text: r.absTarget.text, met: s ? checkOp(s[r.absTarget.stat || 'median'], r.absTarget.op, r.absTarget.value) : null });
  }
  return r;
}

/** Rows in scenario order (the number the scenario label starts with), stable within one. */
function sortRows(rows) {
  const num = (r) => {
    const m = /^(\d+)/.exec(r.scenario || '');
    return m ? Number(m[1]) : 1e9;
  };
  return rows.map((r, i) => [r, i]).sort((a, b) => num(a[0]) - num(b[0]) || a[1] - b[1]).map(([r]) => r);
}

/** The distinct row notes, as "scenario, metric: note". */
function notes(rows) {
  return rows.filter((r) => r.note).map((r) => `${r.scenario}, ${r.metric}: ${r.note}`);
}

/** Notes about the whole run rather than one row (why OxMgr's cells are "skipped"). */
function runNotes(result) {
  return result.oxmgr && result.oxmgr.note ? [result.oxmgr.note] : [];
}

function finalizeAA(a) {
  const sa = summarize(a.a);
  const sb = summarize(a.b);
  const rt = sa && sb ? ratio(sa.median, sb.median) : null;
  return { label: a.label, unit: a.unit, a: { samples: a.a, summary: sa }, b: { samples: a.b, summary: sb }, ratio: rt, band: rt == null ? null : Math.abs(rt - 1) };
}

function sideCell(s, unit) {
  if (!s) return '—';
  if (s.summary) return fmtSummary(s.summary, unit) + (s.errors ? ` [${s.errors.length} failed]` : '');
  if (s.status === 'failed') return `failed: ${String(s.note || '').slice(0, 60)}`;
  return s.status || '—';
}

function verdictCell(r) {
  if (!r.verdicts.length) return '';
  if (r.pm && r.pm.status) return `${r.verdicts.map((v) => v.text).join('; ')} (${r.pm.status})`;
  return r.verdicts.map((v) => `${v.text} ${v.met == null ? '?' : v.met ? '✓' : '✗'}`).join('; ');
}

// The third process manager's columns (OxMgr) appear only in tables that have a row with it.
const PEER = 'OxMgr';
const hasPeer = (rows) => rows.some((r) => r.peer);

/** The cells of one row, in table order; `withPeer` adds the peer's two cells (empty without one). */
function cells(r, withPeer = false) {
  const refCell = r.ref && r.ref.summary ? `${r.ref.label}: ${fmtSummary(r.ref.summary, r.unit)}` : '';
  const vsRef = r.ref && r.ref.summary && (r.refRatio != null || r.pm2RefRatio != null) ? [r.refRatio, r.pm2RefRatio].map(fmtRatio).join(' / ') : '';
  const peer = !withPeer ? [] : r.peer ? [sideCell(r.peer, r.unit), r.peer.summary ? fmtRatio(r.peerRatio) : ''] : ['', ''];
  return [r.scenario, r.metric, sideCell(r.pm, r.unit), sideCell(r.pm2, r.unit), fmtRatio(r.ratio), ...peer, refCell, vsRef, verdictCell(r)];
}

function head(withPeer) {
  const peer = withPeer ? [PEER, `pm-native / ${PEER}`] : [];
  return ['Scenario', 'Metric', 'pm-native', 'pm2', 'pm-native / pm2', ...peer, 'Reference', 'pm-native / ref, pm2 / ref', 'Target'];
}

function textTable(rows) {
  const withPeer = hasPeer(rows);
  const HEAD = head(withPeer);
  const all = [HEAD, ...rows.map((r) => cells(r, withPeer))];
  const widths = HEAD.map((_, i) => Math.max(...all.map((c) => [...c[i]].length)));
  const line = (c) => c.map((x, i) => x + ' '.repeat(widths[i] - [...x].length)).join('  ').trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

function mdEscape(s) {
  return String(s).replace(/\|/g, '\\|');
}

function aaLines(aa) {
  return aa.map((a) => `${a.label}: A ${fmtSummary(a.a.summary, a.unit)}, B ${fmtSummary(a.b.summary, a.unit)}, A/B ${fmtRatio(a.ratio)} (noise band ±${a.band == null ? '?' : sig3(a.band * 100)}%)`);
}

function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown',
    memGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

function describeMachine(m) {
  return `${m.kernel} ${m.arch}, ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB RAM, Node ${m.node}`;
}

function markdown(result) {
  const m = result.machine;
  const out = [];
  out.push('<!-- Generated by `npm run bench` (bench/run.js). Do not edit by hand. -->');
  out.push(
    `Measured ${result.date} (${result.mode === 'quick' ? 'quick run: ≥ 3 repetitions, shorter windows' : 'full run: ≥ 5 repetitions'}) on ${describeMachine(m)}; ` +
      `load average at start ${m.loadavg.join(' / ')}. pm-native ${result.versions.pm}` +
      (result.versions.pmBinary ? ` (bin/pm sha256 ${result.versions.pmBinary.sha256}…)` : '') +
      ` against pm2 ${result.versions.pm2}` +
      (result.versions.oxmgr ? ` and OxMgr ${result.versions.oxmgr}` : '') +
      `, alternating in the same run, isolated homes.`,
  );
  for (const w of result.warnings || []) out.push(`\n**Warning:** ${w}.`);
  out.push('');
  const withPeer = hasPeer(result.rows);
  const HEAD = head(withPeer);
  out.push(`| ${HEAD.join(' | ')} |`);
  out.push(`|${HEAD.map(() => '---').join('|')}|`);
  for (const r of result.rows) out.push(`| ${cells(r, withPeer).map(mdEscape).join(' | ')} |`);
  out.push('');
  const ns = [...runNotes(result), ...notes(result.rows)];
  if (ns.length) {
    out.push('Notes:');
    out.push('');
    for (const n of ns) out.push(`- ${mdEscape(n)}`);
    out.push('');
  }
  out.push(
    'Median (min–max) over the repetitions. Ratios are ratios of medians: below 1 means pm-native uses less time or memory, ' +
      'above 1 (throughput) means more lines per second. "not yet": the feature has not landed in pm-native.' +
      (withPeer ? ' The OxMgr column is filled where OxMgr has the same operation.' : ''),
  );
  if (result.aa.length) {
    out.push('');
    out.push('A/A runs (the same tool against itself) show how much of a ratio is noise:');
    out.push('');
    for (const l of aaLines(result.aa)) out.push(`- ${mdEscape(l)}`);
  }
  out.push('');
  return out.join('\n');
}

/** Writes results/<date>[-quick].json, latest.json and latest.md; returns the paths written. */
function writeResults(dir, result) {
  fs.mkdirSync(dir, { recursive: true });
  const base = result.mode === 'quick' ? `${result.date}-quick` : result.date;
  const json = JSON.stringify(result, null, 2) + '\n';
  const files = [path.join(dir, `${base}.json`), path.join(dir, 'latest.json'), path.join(dir, 'latest.md')];
  fs.writeFileSync(files[0], json);
  fs.writeFileSync(files[1], json);
  fs.writeFileSync(files[2], markdown(result));
  return files;
}

const README_START = '<!-- bench:start -->';
const README_END = '<!-- bench:end -->';

/**
 * Puts latest.md into README.md between the bench markers, so the README's table is always the
 * last saved run. Returns false (and changes nothing) when the markers are missing.
 */
function embedInReadme(readmePath, md) {
  const text = fs.readFileSync(readmePath, 'utf8');
  const a = text.indexOf(README_START);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) return false;
  const next = `${text.slice(0, a + README_START.length)}\n${md.trimEnd()}\n${text.slice(b)}`;
  const tmp = `${readmePath}.tmp${process.pid}`;
  fs.writeFileSync(tmp, next);
  fs.renameSync(tmp, readmePath);
  return true;
}

module.exports = { sortRows, notes, runNotes, finalizeRow, finalizeAA, textTable, aaLines, machine, describeMachine, markdown, writeResults, embedInReadme };
