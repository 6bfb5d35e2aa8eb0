//! Lenient parsers for ecosystem fields: pm2 accepts `"10"` for 10, `"false"` for false and
//! `"-a -b"` for `["-a", "-b"]`, and users' files rely on it.

use serde::de::{Deserializer, Error};
use serde::Deserialize;
use serde_json::Value;

fn bad<E: Error>(what: &str, v: &Value) -> E {
    E::custom(format!("expected {what}, got {v}"))
}

pub fn args<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => crate::sys::words::split(&s).map_err(D::Error::custom),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(bad("a string", &other)),
            })
            .collect(),
        other => Err(bad("a string or an array of strings", &other)),
    }
}

pub fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        _ => None,
    }
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    parse_bool(&v)
        .map(Some)
        .ok_or_else(|| bad("true or false", &v))
}

pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| bad("a non-negative number", &v)),
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad("a non-negative number", &v)),
        _ => Err(bad("a non-negative number", &v)),
    }
}

/// Milliseconds, as a number or a string with a unit (`500`, `"2s"`, `"1m"`, `"1h"`).
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("\"{s}\" is not a duration (use ms, or a number with s, m or h)"))?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => {
            return Err(format!(
                "\"{s}\" is not a duration (use ms, or a number with s, m or h)"
            ))
        }
    };
    Ok((n * factor) as u64)
}

pub fn opt_duration_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| Some(f as u64))
            .ok_or_else(|| bad("a duration", &v)),
        Value::String(s) => parse_duration_ms(s).map(Some).map_err(D::Error::custom),
        _ => Err(bad("a duration", &v)),
    }
}

/// A memory size as pm2 writes it: bytes, or a number with K, M or G (`200M`, `1G`, `512K`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let err = || format!("\"{s}\" is not a memory size (use a number with K, M or G, e.g. 200M)");
    if t.is_empty() {
        return Err(err());
    }
    let (num, factor) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let f: u64 = match c.to_ascii_uppercase() {
                'K' => 1024,
                'M' => 1024 * 1024,
                'G' => 1024 * 1024 * 1024,
                _ => return Err(err()),
            };
            (&t[..i], f)
        }
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| err())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(err());
    }
    Ok((n * factor as f64) as u64)
}

pub fn opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| bad("a memory size", &v)),
        Value::String(s) => parse_bytes(s).map(Some).map_err(D::Error::custom),
        _ => Err(bad("a memory size", &v)),
    }
}

pub fn exit_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    let one = |v: &Value| -> Option<i32> {
        match v {
            Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| one(v).ok_or_else(|| bad("an exit code", v)))
            .collect(),
        v => one(&v)
            .map(|c| vec![c])
            .ok_or_else(|| bad("an exit code or a list of them", &v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_bytes("200M"), Ok(200 * 1024 * 1024));
        assert_eq!(parse_bytes("1G"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_bytes("512k"), Ok(512 * 1024));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("12XB").is_err());
        assert!(parse_bytes("-5M").is_err());
        assert!(parse_bytes("M").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1500"), Ok(1500));
        assert_eq!(parse_duration_ms("2s"), Ok(2000));
        assert_eq!(parse_duration_ms("1m"), Ok(60_000));
        assert!(parse_duration_ms("soon").is_err());
    }
}
