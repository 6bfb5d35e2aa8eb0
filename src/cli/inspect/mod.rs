//! Byte-exact port of the subset of Node's `util.inspect` that `pm2 prettylist` needs.
//!
//! pm2 7.0.4 (`lib/API.js`, `jlist(debug)`, reached through `pm2 prettylist`) prints
//! `process.stdout.write(util.inspect(list, false, null, false))`: legacy positional
//! arguments meaning `showHidden: false, depth: null, colors: false`. Every other option
//! keeps Node 20's defaults (`inspect.defaultOptions`): `breakLength: 80, compact: 3,
//! maxArrayLength: 100, maxStringLength: 10000, sorted: false`. The list reaches the CLI
//! through JSON (axon RPC), so only the JSON subset of values has to be handled.
//!
//! Each function below mirrors one function of Node 20's `lib/internal/util/inspect.js`
//! (named in its doc comment); lengths are counted in UTF-16 code units like JS does.

use serde_json::{Map, Number, Value};

/// `inspectDefaultOptions.breakLength`.
const BREAK_LENGTH: usize = 80;
/// `inspectDefaultOptions.compact`.
const COMPACT: usize = 3;
/// `inspectDefaultOptions.maxArrayLength` (not overridden by pm2's legacy call).
const MAX_ARRAY_LENGTH: usize = 100;
/// `inspectDefaultOptions.maxStringLength`.
const MAX_STRING_LENGTH: usize = 10_000;
/// `kMinLineLength`: strings at most this long are never split on newlines.
const MIN_LINE_LENGTH: usize = 16;

/// Renders a JSON value exactly as Node 20's util.inspect(value, <pm2's options>) would print it (no colors).
pub fn inspect(value: &Value) -> String {
    let mut ctx = Ctx {
        indentation_lvl: 0,
        current_depth: 0,
    };
    format_value(&mut ctx, value, 0)
}

/// The mutable parts of Node's `ctx` that influence the layout.
struct Ctx {
    /// `ctx.indentationLvl`: columns already consumed by the enclosing structure.
    indentation_lvl: usize,
    /// `ctx.currentDepth`: depth of the most recently entered non-empty object/array.
    current_depth: usize,
}

/// `formatValue` + the `formatRaw` branches for plain objects and arrays.
fn format_value(ctx: &mut Ctx, value: &Value, recurse_times: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_number(n),
        Value::String(s) => format_string(ctx, s),
        // Empty containers return before `ctx.currentDepth` is touched, as in formatRaw.
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Array(items) => format_array(ctx, items, recurse_times + 1),
        Value::Object(map) => format_object(ctx, map, recurse_times + 1),
    }
}

/// `formatArray` (+ `formatProperty` with `kArrayType`): at most `maxArrayLength` items.
fn format_array(ctx: &mut Ctx, items: &[Value], recurse_times: usize) -> String {
    ctx.current_depth = recurse_times;
    let shown = items.len().min(MAX_ARRAY_LENGTH);
    let mut output = Vec::with_capacity(shown + 1);
    for item in &items[..shown] {
        output.push(format_child(ctx, item, recurse_times));
    }
    let remaining = items.len() - shown;
    if remaining > 0 {
        output.push(format!("... {remaining} more item{}", plural(remaining)));
    }
    reduce_to_single_string(ctx, output, ('[', ']'), recurse_times, Some(items))
}

/// `formatRaw` for plain objects, with keys in JS own-property order (`getKeys`).
fn format_object(ctx: &mut Ctx, map: &Map<String, Value>, recurse_times: usize) -> String {
    ctx.current_depth = recurse_times;
    let mut output = Vec::with_capacity(map.len());
    for (key, value) in js_key_order(map) {
        let str = format_child(ctx, value, recurse_times);
        output.push(format!("{}: {str}", format_key(key)));
    }
    reduce_to_single_string(ctx, output, ('{', '}'), recurse_times, None)
}

/// The value half of `formatProperty`: children are formatted two columns deeper.
fn format_child(ctx: &mut Ctx, value: &Value, recurse_times: usize) -> String {
    ctx.indentation_lvl += 2;
    let str = format_value(ctx, value, recurse_times);
    ctx.indentation_lvl -= 2;
    str
}

/// JS objects list integer-like keys ("array indices", 0..=2^32-2) first in ascending
/// numeric order, then the other string keys in insertion order (OrdinaryOwnPropertyKeys).
/// JSON.parse on the pm2 side builds such an object, so `{"b":1,"0":2}` prints `'0'` first.
fn js_key_order(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut indices: Vec<(u32, (&String, &Value))> = Vec::new();
    let mut named = Vec::with_capacity(map.len());
    for entry in map {
        match array_index(entry.0) {
            Some(index) => indices.push((index, entry)),
            None => named.push(entry),
        }
    }
    indices.sort_by_key(|(index, _)| *index);
    indices
        .into_iter()
        .map(|(_, entry)| entry)
        .chain(named)
        .collect()
}

/// Canonical decimal form of an integer in 0..=2^32-2 (ECMAScript "array index").
fn array_index(key: &str) -> Option<u32> {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    if !canonical || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

/// The key half of `formatProperty`: `__proto__` is special-cased, identifiers matching
/// `keyStrRegExp` (`/^[a-zA-Z_][a-zA-Z_0-9]*$/`) are bare, anything else is `strEscape`d.
fn format_key(key: &str) -> String {
    if key == "__proto__" {
        return "['__proto__']".to_owned();
    }
    let mut bytes = key.bytes();
    let identifier = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if identifier {
        key.to_owned()
    } else {
        str_escape(&key.encode_utf16().collect::<Vec<_>>())
    }
}

/// `reduceToSingleString` for `compact: 3` (a number, so the non-`true` branch).
fn reduce_to_single_string(
    ctx: &Ctx,
    mut output: Vec<String>,
    (open, close): (char, char),
    recurse_times: usize,
    array: Option<&[Value]>,
) -> String {
    let entries = output.len();
    if let Some(items) = array {
        if entries > 6 {
            output = group_array_elements(ctx, output, items);
        }
    }
    // Only the innermost `compact` levels may be put on a single line, and only when the
    // entries were not grouped into rows above.
    if ctx.current_depth - recurse_times < COMPACT && entries == output.len() {
        // `start`: output.length + indentationLvl + braces[0].length + base.length + 10.
        let start = output.len() + ctx.indentation_lvl + 1 + 10;
        if is_below_break_length(&output, start) {
            let joined = output.join(", ");
            if !joined.contains('\n') {
                return format!("{open} {joined} {close}");
            }
        }
    }
    let indentation = format!("\n{}", " ".repeat(ctx.indentation_lvl));
    let separator = format!(",{indentation}  ");
    format!(
        "{open}{indentation}  {}{indentation}{close}",
        output.join(&separator)
    )
}

/// `isBelowBreakLength`: entries plus one separator each must fit in `breakLength`.
/// (Node measures `.length` here, not the display width.)
fn is_below_break_length(output: &[String], start: usize) -> bool {
    let mut total_length = output.len() + start;
    if total_length + output.len() > BREAK_LENGTH {
        return false;
    }
    for entry in output {
        total_length += js_len(entry);
        if total_length > BREAK_LENGTH {
            return false;
        }
    }
    true
}

/// `groupArrayElements`: lays out arrays of more than six short entries in aligned columns.
fn group_array_elements(ctx: &Ctx, output: Vec<String>, items: &[Value]) -> Vec<String> {
    // One column for the comma, one for the space after it.
    const SEPARATOR_SPACE: usize = 2;
    // The "... n more items" entry takes no part in the grid.
    let output_length = output.len() - usize::from(output.len() > MAX_ARRAY_LENGTH);
    let data_len: Vec<usize> = output[..output_length]
        .iter()
        .map(|s| string_width(s))
        .collect();
    let total_length: usize = data_len.iter().map(|len| len + SEPARATOR_SPACE).sum();
    let max_length = data_len.iter().copied().max().unwrap_or(0);
    let actual_max = max_length + SEPARATOR_SPACE;
    // At least three entries must fit side by side, and no entry may dwarf the others.
    if actual_max * 3 + ctx.indentation_lvl >= BREAK_LENGTH
        || (total_length as f64 / actual_max as f64 <= 5.0 && max_length > 6)
    {
        return output;
    }
    let approx_char_heights = 2.5;
    // Node divides by the full `output.length` here (including "... more items").
    let average_bias = (actual_max as f64 - total_length as f64 / output.len() as f64).sqrt();
    let biased_max = (actual_max as f64 - 3.0 - average_bias).max(1.0);
    let columns = ((approx_char_heights * biased_max * output_length as f64).sqrt() / biased_max)
        .round()
        .min(((BREAK_LENGTH - ctx.indentation_lvl) / actual_max) as f64)
        .min((COMPACT * 4) as f64)
        .min(15.0) as usize;
    if columns <= 1 {
        return output;
    }
    let max_line_length: Vec<usize> = (0..columns)
        .map(|i| {
            let widest = data_len.iter().skip(i).step_by(columns).max();
            widest.copied().unwrap_or(0) + SEPARATOR_SPACE
        })
        .collect();
    // Numbers are right-aligned (`padStart`), anything else left-aligned (`padEnd`); Node
    // checks `value[i]` for every output index, including the "more items" one.
    let pad_start = (0..output.len()).all(|i| matches!(items.get(i), Some(Value::Number(_))));
    let mut grouped = Vec::with_capacity(output_length / columns + 2);
    for row_start in (0..output_length).step_by(columns) {
        let row_end = (row_start + columns).min(output_length);
        let mut row = String::new();
        for j in row_start..row_end {
            let pad = " ".repeat(max_line_length[j - row_start] - SEPARATOR_SPACE - data_len[j]);
            if pad_start {
                row.push_str(&pad);
            }
            row.push_str(&output[j]);
            if j + 1 < row_end {
                row.push_str(", ");
                if !pad_start {
                    row.push_str(&pad);
                }
            }
        }
        grouped.push(row);
    }
    if output_length < output.len() {
        grouped.push(output[output_length].clone());
    }
    grouped
}

/// `formatPrimitive` for strings: truncation to `maxStringLength`, then splitting of long
/// strings after each `\n` into `'line\n' +` continuation lines.
fn format_string(ctx: &Ctx, value: &str) -> String {
    let mut units: Vec<u16> = value.encode_utf16().collect();
    let mut trailer = String::new();
    if units.len() > MAX_STRING_LENGTH {
        let remaining = units.len() - MAX_STRING_LENGTH;
        // May cut a surrogate pair in half; `str_escape` then prints `\ud83d` like Node.
        units.truncate(MAX_STRING_LENGTH);
        trailer = format!("... {remaining} more character{}", plural(remaining));
    }
    let room = BREAK_LENGTH as isize - ctx.indentation_lvl as isize - 4;
    if units.len() <= MIN_LINE_LENGTH || units.len() as isize <= room {
        return str_escape(&units) + &trailer;
    }
    // `value.split(/(?<=\n)/)`: cut after every `\n` except one ending the string.
    let mut lines = Vec::new();
    let mut line_start = 0;
    for (i, &unit) in units.iter().enumerate() {
        if unit == u16::from(b'\n') && i + 1 < units.len() {
            lines.push(str_escape(&units[line_start..=i]));
            line_start = i + 1;
        }
    }
    lines.push(str_escape(&units[line_start..]));
    let separator = format!(" +\n{}", " ".repeat(ctx.indentation_lvl + 2));
    lines.join(&separator) + &trailer
}

/// `strEscape`: picks the quote (`'`, else `"` if the text has `'` but no `"`, else `` ` ``
/// if it has neither `` ` `` nor `${`, else `'` with `\'`) and escapes C0/C1 controls,
/// the backslash, the chosen single quote and lone surrogates (`meta` / `escapeFn`).
fn str_escape(units: &[u16]) -> String {
    let has = |c: u8| units.contains(&u16::from(c));
    let has_template = units.windows(2).any(|w| w == [36, 123]); // "${"
    let quote = if !has(b'\'') {
        '\''
    } else if !has(b'"') {
        '"'
    } else if !has(b'`') && !has_template {
        '`'
    } else {
        '\''
    };
    let mut result = String::with_capacity(units.len() + 2);
    result.push(quote);
    let mut i = 0;
    while i < units.len() {
        let unit = units[i];
        i += 1;
        match unit {
            0x08 => result.push_str("\\b"),
            0x09 => result.push_str("\\t"),
            0x0a => result.push_str("\\n"),
            0x0c => result.push_str("\\f"),
            0x0d => result.push_str("\\r"),
            0x5c => result.push_str("\\\\"),
            0x27 if quote == '\'' => result.push_str("\\'"),
            0x00..=0x1f | 0x7f..=0x9f => result.push_str(&format!("\\x{unit:02X}")),
            0xd800..=0xdbff if units.get(i).is_some_and(|u| (0xdc00..=0xdfff).contains(u)) => {
                let pair = [unit, units[i]];
                i += 1;
                result.extend(char::decode_utf16(pair).filter_map(Result::ok));
            }
            0xd800..=0xdfff => result.push_str(&format!("\\u{unit:x}")),
            _ => result.extend(char::from_u32(u32::from(unit))),
        }
    }
    result.push(quote);
    result
}

/// `formatNumber` without numeric separators: JS `Number.prototype.toString()` of the
/// double JSON.parse would produce, except that `-0` prints as `-0`.
fn format_number(number: &Number) -> String {
    let value = match (number.as_i64(), number.as_u64(), number.as_f64()) {
        (Some(i), _, _) => i as f64,
        (_, Some(u), _) => u as f64,
        (_, _, Some(f)) => f,
        // Only reachable with serde_json's `arbitrary_precision`; keep its text.
        _ => return number.to_string(),
    };
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (digits, n) = shortest_digits(value.abs());
    let k = digits.len() as i32;
    let sign = if value < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let exp_sign = if n - 1 < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{fraction}e{exp_sign}{}", (n - 1).abs())
    };
    format!("{sign}{body}")
}

/// Shortest round-trip decimal digits `s` and exponent `n` with `value = 0.s × 10^n`
/// (the `k`, `n`, `s` of ECMAScript Number::toString). Rust's `{:e}` gives the shortest
/// digits too, but when two shortest candidates are exactly equally close it may pick the
/// odd one, where the spec (and V8's bignum-dtoa) picks the even one, e.g. for
/// 2160605745521401.25 V8 prints `...401.2` and Rust `...401.3`.
fn shortest_digits(value: f64) -> (String, i32) {
    let split = |sci: String| -> (String, i32) {
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
        let digits = mantissa.chars().filter(|c| *c != '.').collect();
        (digits, exponent.parse::<i32>().unwrap_or(0) + 1)
    };
    let (digits, n) = split(format!("{value:e}"));
    // 767 fractional digits hold any f64 exactly, so a tie shows as a `5` + zeros tail.
    let (exact, exact_n) = split(format!("{value:.767e}"));
    if exact_n != n {
        return (digits, n);
    }
    let (head, tail) = exact.split_at(digits.len());
    let tie = tail.starts_with('5') && tail.bytes().skip(1).all(|b| b == b'0');
    let last = head.bytes().last().map_or(0, |b| b - b'0');
    if !tie || last == 9 {
        return (digits, n);
    }
    let even = if last % 2 == 0 {
        head.to_owned()
    } else {
        format!("{}{}", &head[..head.len() - 1], last + 1)
    };
    let candidate = format!("{}.{}e{}", &even[..1], &even[1..], n - 1);
    if candidate.parse::<f64>() == Ok(value) {
        (even, n)
    } else {
        (digits, n)
    }
}

fn plural(count: usize) -> &'static str {
    if count > 1 {
        "s"
    } else {
        ""
    }
}

/// `String.prototype.length`.
fn js_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `getStringWidth` (ICU build, colors off) summed per code point: printable ASCII
/// counts 1, ranges from ICU's East Asian Width (wide/fullwidth, emoji presentation)
/// count 2, control/format/combining marks (Cc, Cf, Me, Mn) count 0.
fn string_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    let in_table = |table: &[(u32, u32)]| {
        table
            .binary_search_by(|&(lo, hi)| {
                if hi < cp {
                    std::cmp::Ordering::Less
                } else if lo > cp {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    };
    if cp < 0x7f {
        usize::from(cp >= 0x20)
    } else if in_table(WIDE) {
        2
    } else if in_table(ZERO_WIDTH) {
        0
    } else {
        1
    }
}

// Both tables were generated by probing Node 20.20's ICU-backed `getStringWidth` with every
// code point from U+00A0 up (`node --expose-internals`, `internal/util/inspect`).

/// Inclusive code point ranges two columns wide.
#[rustfmt::skip]
const WIDE: &[(u32, u32)] = &[
    (0x1100, 0x115f), (0x231a, 0x231b), (0x2329, 0x232a), (0x23e9, 0x23ec), (0x23f0, 0x23f0),
    (0x23f3, 0x23f3), (0x25fd, 0x25fe), (0x2614, 0x2615), (0x2630, 0x2637), (0x2648, 0x2653),
    (0x267f, 0x267f), (0x268a, 0x268f), (0x2693, 0x2693), (0x26a1, 0x26a1), (0x26aa, 0x26ab),
    (0x26bd, 0x26be), (0x26c4, 0x26c5), (0x26ce, 0x26ce), (0x26d4, 0x26d4), (0x26ea, 0x26ea),
    (0x26f2, 0x26f3), (0x26f5, 0x26f5), (0x26fa, 0x26fa), (0x26fd, 0x26fd), (0x2705, 0x2705),
    (0x270a, 0x270b), (0x2728, 0x2728), (0x274c, 0x274c), (0x274e, 0x274e), (0x2753, 0x2755),
    (0x2757, 0x2757), (0x2795, 0x2797), (0x27b0, 0x27b0), (0x27bf, 0x27bf), (0x2b1b, 0x2b1c),
    (0x2b50, 0x2b50), (0x2b55, 0x2b55), (0x2e80, 0x2e99), (0x2e9b, 0x2ef3), (0x2f00, 0x2fd5),
    (0x2ff0, 0x303e), (0x3041, 0x3096), (0x3099, 0x30ff), (0x3105, 0x312f), (0x3131, 0x318e),
    (0x3190, 0x31e5), (0x31ef, 0x321e), (0x3220, 0x3247), (0x3250, 0xa48c), (0xa490, 0xa4c6),
    (0xa960, 0xa97c), (0xac00, 0xd7a3), (0xf900, 0xfaff), (0xfe10, 0xfe19), (0xfe30, 0xfe52),
    (0xfe54, 0xfe66), (0xfe68, 0xfe6b), (0xff01, 0xff60), (0xffe0, 0xffe6), (0x16fe0, 0x16fe4),
    (0x16ff0, 0x16ff6), (0x17000, 0x18cd5), (0x18cff, 0x18d1e), (0x18d80, 0x18df2),
    (0x1aff0, 0x1aff3), (0x1aff5, 0x1affb), (0x1affd, 0x1affe), (0x1b000, 0x1b122),
    (0x1b132, 0x1b132), (0x1b150, 0x1b152), (0x1b155, 0x1b155), (0x1b164, 0x1b167),
    (0x1b170, 0x1b2fb), (0x1d15e, 0x1d15f), (0x1d1bb, 0x1d1bc), (0x1d300, 0x1d356),
    (0x1d360, 0x1d376), (0x1f004, 0x1f004), (0x1f0cf, 0x1f0cf), (0x1f18e, 0x1f18e),
    (0x1f191, 0x1f19a), (0x1f1e6, 0x1f202), (0x1f210, 0x1f23b), (0x1f240, 0x1f248),
    (0x1f250, 0x1f251), (0x1f260, 0x1f265), (0x1f300, 0x1f320), (0x1f32d, 0x1f335),
    (0x1f337, 0x1f37c), (0x1f37e, 0x1f393), (0x1f3a0, 0x1f3ca), (0x1f3cf, 0x1f3d3),
    (0x1f3e0, 0x1f3f0), (0x1f3f4, 0x1f3f4), (0x1f3f8, 0x1f43e), (0x1f440, 0x1f440),
    (0x1f442, 0x1f4fc), (0x1f4ff, 0x1f53d), (0x1f54b, 0x1f54e), (0x1f550, 0x1f567),
    (0x1f57a, 0x1f57a), (0x1f595, 0x1f596), (0x1f5a4, 0x1f5a4), (0x1f5fb, 0x1f64f),
    (0x1f680, 0x1f6c5), (0x1f6cc, 0x1f6cc), (0x1f6d0, 0x1f6d2), (0x1f6d5, 0x1f6d8),
    (0x1f6dc, 0x1f6df), (0x1f6eb, 0x1f6ec), (0x1f6f4, 0x1f6fc), (0x1f7e0, 0x1f7eb),
    (0x1f7f0, 0x1f7f0), (0x1f90c, 0x1f93a), (0x1f93c, 0x1f945), (0x1f947, 0x1f9ff),
    (0x1fa70, 0x1fa7c), (0x1fa80, 0x1fa8a), (0x1fa8e, 0x1fac6), (0x1fac8, 0x1fac8),
    (0x1facd, 0x1fadc), (0x1fadf, 0x1faea), (0x1faef, 0x1faf8), (0x20000, 0x2fffd),
    (0x30000, 0x3fffd),
];

/// Inclusive code point ranges of zero width (U+007F..U+009F added for the C1 controls).
#[rustfmt::skip]
const ZERO_WIDTH: &[(u32, u32)] = &[
    (0x7f, 0x9f), (0x300, 0x36f), (0x483, 0x489), (0x591, 0x5bd), (0x5bf, 0x5bf), (0x5c1, 0x5c2),
    (0x5c4, 0x5c5), (0x5c7, 0x5c7), (0x600, 0x605), (0x610, 0x61a), (0x61c, 0x61c), (0x64b, 0x65f),
    (0x670, 0x670), (0x6d6, 0x6dd), (0x6df, 0x6e4), (0x6e7, 0x6e8), (0x6ea, 0x6ed), (0x70f, 0x70f),
    (0x711, 0x711), (0x730, 0x74a), (0x7a6, 0x7b0), (0x7eb, 0x7f3), (0x7fd, 0x7fd), (0x816, 0x819),
    (0x81b, 0x823), (0x825, 0x827), (0x829, 0x82d), (0x859, 0x85b), (0x890, 0x891), (0x897, 0x89f),
    (0x8ca, 0x902), (0x93a, 0x93a), (0x93c, 0x93c), (0x941, 0x948), (0x94d, 0x94d), (0x951, 0x957),
    (0x962, 0x963), (0x981, 0x981), (0x9bc, 0x9bc), (0x9c1, 0x9c4), (0x9cd, 0x9cd), (0x9e2, 0x9e3),
    (0x9fe, 0x9fe), (0xa01, 0xa02), (0xa3c, 0xa3c), (0xa41, 0xa42), (0xa47, 0xa48), (0xa4b, 0xa4d),
    (0xa51, 0xa51), (0xa70, 0xa71), (0xa75, 0xa75), (0xa81, 0xa82), (0xabc, 0xabc), (0xac1, 0xac5),
    (0xac7, 0xac8), (0xacd, 0xacd), (0xae2, 0xae3), (0xafa, 0xaff), (0xb01, 0xb01), (0xb3c, 0xb3c),
    (0xb3f, 0xb3f), (0xb41, 0xb44), (0xb4d, 0xb4d), (0xb55, 0xb56), (0xb62, 0xb63), (0xb82, 0xb82),
    (0xbc0, 0xbc0), (0xbcd, 0xbcd), (0xc00, 0xc00), (0xc04, 0xc04), (0xc3c, 0xc3c), (0xc3e, 0xc40),
    (0xc46, 0xc48), (0xc4a, 0xc4d), (0xc55, 0xc56), (0xc62, 0xc63), (0xc81, 0xc81), (0xcbc, 0xcbc),
    (0xcbf, 0xcbf), (0xcc6, 0xcc6), (0xccc, 0xccd), (0xce2, 0xce3), (0xd00, 0xd01), (0xd3b, 0xd3c),
    (0xd41, 0xd44), (0xd4d, 0xd4d), (0xd62, 0xd63), (0xd81, 0xd81), (0xdca, 0xdca), (0xdd2, 0xdd4),
    (0xdd6, 0xdd6), (0xe31, 0xe31), (0xe34, 0xe3a), (0xe47, 0xe4e), (0xeb1, 0xeb1), (0xeb4, 0xebc),
    (0xec8, 0xece), (0xf18, 0xf19), (0xf35, 0xf35), (0xf37, 0xf37), (0xf39, 0xf39), (0xf71, 0xf7e),
    (0xf80, 0xf84), (0xf86, 0xf87), (0xf8d, 0xf97), (0xf99, 0xfbc), (0xfc6, 0xfc6),
    (0x102d, 0x1030), (0x1032, 0x1037), (0x1039, 0x103a), (0x103d, 0x103e), (0x1058, 0x1059),
    (0x105e, 0x1060), (0x1071, 0x1074), (0x1082, 0x1082), (0x1085, 0x1086), (0x108d, 0x108d),
    (0x109d, 0x109d), (0x135d, 0x135f), (0x1712, 0x1714), (0x1732, 0x1733), (0x1752, 0x1753),
    (0x1772, 0x1773), (0x17b4, 0x17b5), (0x17b7, 0x17bd), (0x17c6, 0x17c6), (0x17c9, 0x17d3),
    (0x17dd, 0x17dd), (0x180b, 0x180f), (0x1885, 0x1886), (0x18a9, 0x18a9), (0x1920, 0x1922),
    (0x1927, 0x1928), (0x1932, 0x1932), (0x1939, 0x193b), (0x1a17, 0x1a18), (0x1a1b, 0x1a1b),
    (0x1a56, 0x1a56), (0x1a58, 0x1a5e), (0x1a60, 0x1a60), (0x1a62, 0x1a62), (0x1a65, 0x1a6c),
    (0x1a73, 0x1a7c), (0x1a7f, 0x1a7f), (0x1ab0, 0x1add), (0x1ae0, 0x1aeb), (0x1b00, 0x1b03),
    (0x1b34, 0x1b34), (0x1b36, 0x1b3a), (0x1b3c, 0x1b3c), (0x1b42, 0x1b42), (0x1b6b, 0x1b73),
    (0x1b80, 0x1b81), (0x1ba2, 0x1ba5), (0x1ba8, 0x1ba9), (0x1bab, 0x1bad), (0x1be6, 0x1be6),
    (0x1be8, 0x1be9), (0x1bed, 0x1bed), (0x1bef, 0x1bf1), (0x1c2c, 0x1c33), (0x1c36, 0x1c37),
    (0x1cd0, 0x1cd2), (0x1cd4, 0x1ce0), (0x1ce2, 0x1ce8), (0x1ced, 0x1ced), (0x1cf4, 0x1cf4),
    (0x1cf8, 0x1cf9), (0x1dc0, 0x1dff), (0x200b, 0x200f), (0x202a, 0x202e), (0x2060, 0x2064),
    (0x2066, 0x206f), (0x20d0, 0x20f0), (0x2cef, 0x2cf1), (0x2d7f, 0x2d7f), (0x2de0, 0x2dff),
    (0xa66f, 0xa672), (0xa674, 0xa67d), (0xa69e, 0xa69f), (0xa6f0, 0xa6f1), (0xa802, 0xa802),
    (0xa806, 0xa806), (0xa80b, 0xa80b), (0xa825, 0xa826), (0xa82c, 0xa82c), (0xa8c4, 0xa8c5),
    (0xa8e0, 0xa8f1), (0xa8ff, 0xa8ff), (0xa926, 0xa92d), (0xa947, 0xa951), (0xa980, 0xa982),
    (0xa9b3, 0xa9b3), (0xa9b6, 0xa9b9), (0xa9bc, 0xa9bd), (0xa9e5, 0xa9e5), (0xaa29, 0xaa2e),
    (0xaa31, 0xaa32), (0xaa35, 0xaa36), (0xaa43, 0xaa43), (0xaa4c, 0xaa4c), (0xaa7c, 0xaa7c),
    (0xaab0, 0xaab0), (0xaab2, 0xaab4), (0xaab7, 0xaab8), (0xaabe, 0xaabf), (0xaac1, 0xaac1),
    (0xaaec, 0xaaed), (0xaaf6, 0xaaf6), (0xabe5, 0xabe5), (0xabe8, 0xabe8), (0xabed, 0xabed),
    (0xfb1e, 0xfb1e), (0xfe00, 0xfe0f), (0xfe20, 0xfe2f), (0xfeff, 0xfeff), (0xfff9, 0xfffb),
    (0x101fd, 0x101fd), (0x102e0, 0x102e0), (0x10376, 0x1037a), (0x10a01, 0x10a03),
    (0x10a05, 0x10a06), (0x10a0c, 0x10a0f), (0x10a38, 0x10a3a), (0x10a3f, 0x10a3f),
    (0x10ae5, 0x10ae6), (0x10d24, 0x10d27), (0x10d69, 0x10d6d), (0x10eab, 0x10eac),
    (0x10efa, 0x10eff), (0x10f46, 0x10f50), (0x10f82, 0x10f85), (0x11001, 0x11001),
    (0x11038, 0x11046), (0x11070, 0x11070), (0x11073, 0x11074), (0x1107f, 0x11081),
    (0x110b3, 0x110b6), (0x110b9, 0x110ba), (0x110bd, 0x110bd), (0x110c2, 0x110c2),
    (0x110cd, 0x110cd), (0x11100, 0x11102), (0x11127, 0x1112b), (0x1112d, 0x11134),
    (0x11173, 0x11173), (0x11180, 0x11181), (0x111b6, 0x111be), (0x111c9, 0x111cc),
    (0x111cf, 0x111cf), (0x1122f, 0x11231), (0x11234, 0x11234), (0x11236, 0x11237),
    (0x1123e, 0x1123e), (0x11241, 0x11241), (0x112df, 0x112df), (0x112e3, 0x112ea),
    (0x11300, 0x11301), (0x1133b, 0x1133c), (0x11340, 0x11340), (0x11366, 0x1136c),
    (0x11370, 0x11374), (0x113bb, 0x113c0), (0x113ce, 0x113ce), (0x113d0, 0x113d0),
    (0x113d2, 0x113d2), (0x113e1, 0x113e2), (0x11438, 0x1143f), (0x11442, 0x11444),
    (0x11446, 0x11446), (0x1145e, 0x1145e), (0x114b3, 0x114b8), (0x114ba, 0x114ba),
    (0x114bf, 0x114c0), (0x114c2, 0x114c3), (0x115b2, 0x115b5), (0x115bc, 0x115bd),
    (0x115bf, 0x115c0), (0x115dc, 0x115dd), (0x11633, 0x1163a), (0x1163d, 0x1163d),
    (0x1163f, 0x11640), (0x116ab, 0x116ab), (0x116ad, 0x116ad), (0x116b0, 0x116b5),
    (0x116b7, 0x116b7), (0x1171d, 0x1171d), (0x1171f, 0x1171f), (0x11722, 0x11725),
    (0x11727, 0x1172b), (0x1182f, 0x11837), (0x11839, 0x1183a), (0x1193b, 0x1193c),
    (0x1193e, 0x1193e), (0x11943, 0x11943), (0x119d4, 0x119d7), (0x119da, 0x119db),
    (0x119e0, 0x119e0), (0x11a01, 0x11a0a), (0x11a33, 0x11a38), (0x11a3b, 0x11a3e),
    (0x11a47, 0x11a47), (0x11a51, 0x11a56), (0x11a59, 0x11a5b), (0x11a8a, 0x11a96),
    (0x11a98, 0x11a99), (0x11b60, 0x11b60), (0x11b62, 0x11b64), (0x11b66, 0x11b66),
    (0x11c30, 0x11c36), (0x11c38, 0x11c3d), (0x11c3f, 0x11c3f), (0x11c92, 0x11ca7),
    (0x11caa, 0x11cb0), (0x11cb2, 0x11cb3), (0x11cb5, 0x11cb6), (0x11d31, 0x11d36),
    (0x11d3a, 0x11d3a), (0x11d3c, 0x11d3d), (0x11d3f, 0x11d45), (0x11d47, 0x11d47),
    (0x11d90, 0x11d91), (0x11d95, 0x11d95), (0x11d97, 0x11d97), (0x11ef3, 0x11ef4),
    (0x11f00, 0x11f01), (0x11f36, 0x11f3a), (0x11f40, 0x11f40), (0x11f42, 0x11f42),
    (0x11f5a, 0x11f5a), (0x13430, 0x13440), (0x13447, 0x13455), (0x1611e, 0x16129),
    (0x1612d, 0x1612f), (0x16af0, 0x16af4), (0x16b30, 0x16b36), (0x16f4f, 0x16f4f),
    (0x16f8f, 0x16f92), (0x1bc9d, 0x1bc9e), (0x1bca0, 0x1bca3), (0x1cf00, 0x1cf2d),
    (0x1cf30, 0x1cf46), (0x1d167, 0x1d169), (0x1d173, 0x1d182), (0x1d185, 0x1d18b),
    (0x1d1aa, 0x1d1ad), (0x1d242, 0x1d244), (0x1da00, 0x1da36), (0x1da3b, 0x1da6c),
    (0x1da75, 0x1da75), (0x1da84, 0x1da84), (0x1da9b, 0x1da9f), (0x1daa1, 0x1daaf),
    (0x1e000, 0x1e006), (0x1e008, 0x1e018), (0x1e01b, 0x1e021), (0x1e023, 0x1e024),
    (0x1e026, 0x1e02a), (0x1e08f, 0x1e08f), (0x1e130, 0x1e136), (0x1e2ae, 0x1e2ae),
    (0x1e2ec, 0x1e2ef), (0x1e4ec, 0x1e4ef), (0x1e5ee, 0x1e5ef), (0x1e6e3, 0x1e6e3),
    (0x1e6e6, 0x1e6e6), (0x1e6ee, 0x1e6ef), (0x1e6f5, 0x1e6f5), (0x1e8d0, 0x1e8d6),
    (0x1e944, 0x1e94a), (0xe0001, 0xe0001), (0xe0020, 0xe007f), (0xe0100, 0xe01ef),
];

#[cfg(test)]
mod tests;
