'use strict';
// Pure statistics and number formatting; no I/O.

function sorted(xs) {
  return xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
}

function quantile(sortedXs, q) {
  if (sortedXs.length === 0) return null;
  const pos = (sortedXs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sortedXs[lo] + (sortedXs[hi] - sortedXs[lo]) * (pos - lo);
}

/** { n, median, min, max, p25, p75, mean } of the finite samples, or null if there are none. */
function summarize(samples) {
  const xs = sorted(samples || []);
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    n: xs.length,
    median: quantile(xs, 0.5),
    min: xs[0],
    max: xs[xs.length - 1],
    p25: quantile(xs, 0.25),
    p75: quantile(xs, 0.75),
    mean,
  };
}

/** a / b, or null when either side is missing or b is 0 and a is not. */
function ratio(a, b) {
  if (a == null || b == null) return null;
  if (b === 0) return a === 0 ? 1 : null;
  return a / b;
}

/** Three significant digits without exponent notation: 0.0123, 1.00, 123, 12300. */
function sig3(x) {
  if (x == null || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (ax >= 999.5) return String(Math.round(x));
  if (ax < 1e-4) return x.toExponential(2);
  return x.toPrecision(3);
}

/** How to print values of `unit` around magnitude `x`: a divisor and a suffix. */
function scaleFor(x, unit) {
  switch (unit) {
    case 'ms':
      return x >= 1000 ? { div: 1000, suffix: ' s' } : { div: 1, suffix: ' ms' };
    case 'lines/s':
      return x >= 1e6 ? { div: 1e6, suffix: 'M/s' } : x >= 1e3 ? { div: 1e3, suffix: 'k/s' } : { div: 1, suffix: '/s' };
    case 'req/s':
      return x >= 1e3 ? { div: 1e3, suffix: 'k req/s' } : { div: 1, suffix: ' req/s' };
    case 'lines':
    case 'count':
      return { div: 1, suffix: '', integer: true };
    default:
      return { div: 1, suffix: unit ? ' ' + unit : '' };
  }
}

function scaled(x, sc) {
  return sc.integer ? String(Math.round(x)) : sig3(x / sc.div);
}

/** A value in its unit, e.g. "12.3 ms", "1.23 s", "57.7 MiB", "412k/s". */
function fmtValue(x, unit) {
  if (x == null || !Number.isFinite(x)) return '—';
  const sc = scaleFor(Math.abs(x), unit);
  return scaled(x, sc) + sc.suffix;
}

/** "12.3 ms (11.9–13.1)": the median, then the spread min–max on the median's scale. */
function fmtSummary(s, unit) {
  if (!s) return '—';
  const sc = scaleFor(Math.abs(s.median), unit);
  const med = scaled(s.median, sc) + sc.suffix;
  const lo = scaled(s.min, sc);
  const hi = scaled(s.max, sc);
  if (s.n === 1 || lo === hi) return med;
  return `${med} (${lo}–${hi})`;
}

function fmtRatio(r) {
  if (r == null) return '—';
  return `${sig3(r)}×`;
}

/** The median of the finite samples, as the tables show it; NaN if there are none. */
function median(samples) {
  const s = summarize(samples);
  return s ? s.median : NaN;
}

module.exports = { summarize, median, quantile, ratio, sig3, fmtValue, fmtSummary, fmtRatio };
