//! The `pm set` / `pm get` store: pm2's `module_conf.json` in the home, in pm2's shape, so a
//! home and the habits (`pm set pm2-logrotate:max_size 10M`) carry over from pm2 unchanged.
//! Keys split on `.`, else on `:` (`"..."` quotes a part), as pm2's `splitKey`; values are
//! stored as the strings given; the file is JSON indented by four spaces, with no final newline.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::logs::RotatePolicy;

/// Where pm2 keeps the store, under its home (`PM2_MODULE_CONF_FILE`).
pub const FILE_NAME: &str = "module_conf.json";

/// The settings of the built-in log rotation keep pm2-logrotate's module name.
pub const LOGROTATE: &str = "pm2-logrotate";

/// pm-native's own settings (`/metrics` and the dashboard: `metrics_port`, `dashboard_host`...).
pub const PM_NATIVE: &str = "pm-native";

pub fn path(home: &super::Home) -> PathBuf {
    home.root.join(FILE_NAME)
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON ({source}); fix or remove it")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} does not hold a JSON object; fix or remove it")]
    NotObject { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{LOGROTATE} in {path} must hold an object of settings")]
    NotSection { path: PathBuf },
    #[error("invalid key \"{0}\"")]
    BadKey(String),
    #[error("{LOGROTATE}:{key} = {value}: {reason}")]
    BadValue {
        key: &'static str,
        value: String,
        reason: String,
    },
}

type Result<T> = std::result::Result<T, SettingsError>;

#[derive(Debug, Clone)]
pub struct Settings {
    path: PathBuf,
    conf: Map<String, Value>,
}

/// pm2's `splitKey`: `a.b` or `a:b` (dots win), with `"x.y"` quoting a part. Keys that would
/// reach an object's prototype in pm2 are refused here too.
pub fn split_key(key: &str) -> Result<Vec<String>> {
    let sep = if key.contains('.') {
        '.'
    } else if key.contains(':') {
        ':'
    } else {
        return check_parts(key, vec![key.to_string()]);
    };
    // `(?:[^<sep>"]+|"[^"]*")+`, the quotes then dropped; a lone `"` separates, as there.
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_part = false;
    let mut chars = key.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            if let Some(len) = key[i + 1..].find('"') {
                cur.push_str(&key[i + 1..i + 1 + len]);
                in_part = true;
                while chars.peek().is_some_and(|(j, _)| *j <= i + 1 + len) {
                    chars.next();
                }
                continue;
            }
        }
        if c == sep || c == '"' {
            if in_part {
                parts.push(std::mem::take(&mut cur));
            }
            in_part = false;
        } else {
            cur.push(c);
            in_part = true;
        }
    }
    if in_part {
        parts.push(cur);
    }
    check_parts(key, parts)
}

fn check_parts(key: &str, parts: Vec<String>) -> Result<Vec<String>> {
    let bad =
        |p: &String| p.is_empty() || ["__proto__", "constructor", "prototype"].contains(&&**p);
    if parts.is_empty() || parts.iter().any(bad) {
        return Err(SettingsError::BadKey(key.to_string()));
    }
    Ok(parts)
}

impl Settings {
    /// Reads the store; a missing or empty file is an empty store.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let conf = if text.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(SettingsError::NotObject {
                        path: path.to_path_buf(),
                    })
                }
                Err(source) => {
                    return Err(SettingsError::Parse {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
        };
        Ok(Settings {
            path: path.to_path_buf(),
            conf,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, nested as in the file (`{"pm2-logrotate": {"max_size": "10M"}}`).
    pub fn all(&self) -> &Map<String, Value> {
        &self.conf
    }

    pub fn get(&self, key: &str) -> Result<Option<&Value>> {
        let mut parts = split_key(key)?.into_iter();
        let first = parts.next().expect("split_key returns at least one part");
        let mut at = self.conf.get(&first);
        for p in parts {
            at = at.and_then(|v| v.get(&p));
        }
        Ok(at)
    }

    /// Sets a value as pm2 does: missing or non-object levels on the way become objects.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let parts = split_key(key)?;
        let (last, levels) = parts.split_last().expect("at least one part");
        let mut at = &mut self.conf;
        for p in levels {
            let slot = at.entry(p.clone()).or_insert(Value::Null);
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            at = slot.as_object_mut().expect("made an object just above");
        }
        at.insert(last.clone(), Value::String(value.to_string()));
        Ok(())
    }

    /// Removes a key; `all` empties the store, as in pm2. Unlike pm2, levels that were not
    /// there are not created on the way.
    pub fn unset(&mut self, key: &str) -> Result<()> {
        if key == "all" {
            self.conf.clear();
            return Ok(());
        }
        let parts = split_key(key)?;
        let (last, levels) = parts.split_last().expect("at least one part");
        let mut at = &mut self.conf;
        for p in levels {
            match at.get_mut(p).and_then(Value::as_object_mut) {
                Some(next) => at = next,
                None => return Ok(()),
            }
        }
        at.shift_remove(last);
        Ok(())
    }

    /// The file's text, as pm2's `JSON.stringify(conf, null, 4)` writes it.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        serde::Serialize::serialize(&self.conf, &mut ser).expect("a JSON map always serialises");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// Writes the store atomically (temp file, fsync, rename).
    pub fn save(&self) -> Result<()> {
        super::paths::write_atomic(&self.path, self.to_json().as_bytes()).map_err(|source| {
            SettingsError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// The built-in log rotation's policy from the `pm2-logrotate:*` keys, with
    /// pm2-logrotate's defaults for those not set (or set to `""`, which it treats as unset).
    /// `workerInterval` is not read: sizes are checked on every write, not polled.
    /// `rotateModule` neither: pm-native runs no modules.
    pub fn rotate_policy(&self) -> Result<RotatePolicy> {
        let conf = match self.conf.get(LOGROTATE) {
            None | Some(Value::Null) => return Ok(RotatePolicy::default()),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(SettingsError::NotSection {
                    path: self.path.clone(),
                })
            }
        };
        logrotate_policy(conf)
    }
}

/// A setting as the text pm2-logrotate would see (`"" + value`); `None` when unset.
fn setting(conf: &Map<String, Value>, key: &'static str) -> Result<Option<String>> {
    match conf.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(SettingsError::BadValue {
            key,
            value: other.to_string(),
            reason: "expected a string".into(),
        }),
    }
}

fn logrotate_policy(conf: &Map<String, Value>) -> Result<RotatePolicy> {
    let mut p = RotatePolicy::default();
    apply_logrotate(&mut p, conf)?;
    Ok(p)
}

fn apply_logrotate(p: &mut RotatePolicy, conf: &Map<String, Value>) -> Result<()> {
    let bad = |key, value: &str, reason: String| SettingsError::BadValue {
        key,
        value: value.to_string(),
        reason,
    };
    if let Some(v) = setting(conf, "max_size")? {
        p.max_size = parse_size(&v).map_err(|r| bad("max_size", &v, r))?;
    }
    // Unset means pm2-logrotate's default of 30; "" (and a non-number) means keep them all
    // there, written `all` here.
    match conf.get("retain") {
        Some(Value::String(s)) if s.is_empty() => p.retain = None,
        _ => {
            if let Some(v) = setting(conf, "retain")? {
                p.retain = match v.trim() {
                    "all" => None,
                    n => Some(n.parse().map_err(|_| {
                        bad("retain", &v, "expected a number of files, or all".into())
                    })?),
                };
            }
        }
    }
    if let Some(v) = setting(conf, "compress")? {
        p.compress = match v.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("compress", &v, "expected true or false".into())),
        };
    }
    if let Some(v) = setting(conf, "dateFormat")? {
        p.date_format = v.clone();
        if crate::logs::rotate::format_date(p, chrono::Utc::now()).is_none() {
            return Err(bad(
                "dateFormat",
                &v,
                "not usable in a file name (empty, or makes a '/')".into(),
            ));
        }
    }
    if let Some(v) = setting(conf, "rotateInterval")? {
        super::validate_cron(&v).map_err(|r| bad("rotateInterval", &v, r))?;
        p.rotate_interval = v;
    }
    if let Some(v) = setting(conf, "TZ")? {
        p.tz = Some(crate::sys::zone::Zone::named(&v).map_err(|_| {
            bad(
                "TZ",
                &v,
                "unknown time zone (expected a tz database name such as Europe/Paris, or a POSIX rule such as JST-9)".into(),
            )
        })?);
    }
    Ok(())
}

/// A size as pm2-logrotate reads `max_size`: bytes, or a number ending in K, M or G (powers of
/// 1024). It parses the digits with `parseInt`, so `10m` is 10 bytes and `1.5M` is 1 MiB
/// there; such values are refused here instead of guessed at.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'M')) => (&t[..i], 1 << 20),
        Some((i, 'G')) => (&t[..i], 1 << 30),
        Some((_, 'k' | 'm' | 'g')) => {
            return Err(
                "units are upper case, K, M or G (pm2-logrotate reads 10m as 10 bytes)".into(),
            )
        }
        _ => (t, 1),
    };
    let digits = digits.trim_end();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a size such as 10M, 1G, 500K or a number of bytes".into());
    }
    let n: u64 = digits.parse().map_err(|_| "too large".to_string())?;
    match n.checked_mul(unit) {
        Some(0) => Err("must be above 0".into()),
        Some(b) => Ok(b),
        None => Err("too large".into()),
    }
}

/// `pm set`: reads the store, sets `key`, writes it back atomically. A store that cannot be
/// parsed is reported, never overwritten.
pub fn set(path: &Path, key: &str, value: &str) -> Result<Settings> {
    let mut s = Settings::load(path)?;
    s.set(key, value)?;
    s.save()?;
    Ok(s)
}

/// `pm unset`: as [`set`].
pub fn unset(path: &Path, key: &str) -> Result<Settings> {
    let mut s = Settings::load(path)?;
    s.unset(key)?;
    s.save()?;
    Ok(s)
}

#[path = "settings_logrotate.rs"]
mod logrotate;
pub use logrotate::*;

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
