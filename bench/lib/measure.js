'use strict';
// Measurement plumbing shared by the scenarios: alternating repetitions and result rows.

/**
 * Runs `reps` rounds of every series; round i starts at series (i mod k), so pm and pm2 (and the
 * reference) take turns going first. A series function returns a number (one sample), an array
 * of numbers, or null (no sample). A throw is recorded and the round goes on.
 * @returns {{ samples: Record<string, number[]>, errors: Record<string, string[]> }}
 */
async function interleave(reps, series, { onError } = {}) {
  const keys = Object.keys(series);
  const samples = Object.fromEntries(keys.map((k) => [k, []]));
  const errors = Object.fromEntries(keys.map((k) => [k, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (let j = 0; j < keys.length; j++) {
      const key = keys[(rep + j) % keys.length];
      try {
        const v = await series[key](rep);
        if (Array.isArray(v)) samples[key].push(...v);
        else if (typeof v === 'number') samples[key].push(v);
      } catch (e) {
        errors[key].push(e.message);
        if (onError) onError(key, e);
      }
    }
  }
  return { samples, errors };
}

/** The value of one side of a row: samples, or a status such as 'not yet'. */
function side(samples, errors = []) {
  if (samples && samples.length) return { samples, errors: errors.length ? errors : undefined };
  if (errors && errors.length) return { status: 'failed', note: errors[0] };
  return { status: 'failed', note: 'no samples' };
}

const notYet = (note) => ({ status: 'not yet', note });
const skipped = (note) => ({ status: 'skipped', note });

/**
 * One result row. `target` applies to pm/pm2 (ratio of medians), `refTarget` to pm/reference,
 * `peerTarget` to pm/peer. `absTarget` applies to pm-native's own samples ({ stat: 'median' |
 * 'max', op, value, text }). Targets: { op: '<=' | '>=', value, text }.
 * `ref` is a baseline that is not a process manager ({ label, samples }); `peer` is a third
 * process manager measured like pm and pm2 (OxMgr: `{ label, ...side }`, so it may be a status
 * such as 'skipped').
 */
function row({ scenario, metric, unit, better = 'lower', pm, pm2, peer, ref, target, refTarget, peerTarget, absTarget, note }) {
  return { scenario, metric, unit, better, pm, pm2, peer, ref, target, refTarget, peerTarget, absTarget, note };
}

/** Lets a scenario fail one side without losing the other. */
function fromRun(run, key) {
  return side(run.samples[key], run.errors[key]);
}

module.exports = { interleave, side, notYet, skipped, row, fromRun };
