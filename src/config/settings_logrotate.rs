//! The `pm2-logrotate:*` side of the store: what `pm2 install pm2-logrotate` writes, the keys
//! the built-in rotation reads, `pm set` with those values checked first, and an app's own
//! rotation settings read the same way.

use std::path::Path;

use serde_json::{Map, Value};

use super::{apply_logrotate, setting, split_key, Result, Settings, SettingsError, LOGROTATE};
use crate::logs::RotatePolicy;

/// pm2-logrotate 3.0.0's `config` in its package.json: what `pm2 install pm2-logrotate` writes
/// into the store, values typed as there.
pub fn logrotate_defaults() -> [(&'static str, Value); 7] {
    [
        ("max_size", "10M".into()),
        ("retain", "30".into()),
        ("compress", false.into()),
        ("dateFormat", "YYYY-MM-DD_HH-mm-ss".into()),
        ("workerInterval", "30".into()),
        ("rotateInterval", "0 0 * * *".into()),
        ("rotateModule", true.into()),
    ]
}

/// The `pm2-logrotate:*` keys the built-in rotation reads, and `TZ`, which it reads too.
pub const LOGROTATE_KEYS: [&str; 8] = [
    "max_size",
    "retain",
    "compress",
    "dateFormat",
    "workerInterval",
    "rotateInterval",
    "rotateModule",
    "TZ",
];

/// The setting of the built-in rotation a key names (`pm2-logrotate:retain` → `retain`);
/// `Some("")` for the whole section.
pub fn logrotate_key(key: &str) -> Result<Option<String>> {
    let parts = split_key(key)?;
    Ok(match parts.as_slice() {
        [m] if m == LOGROTATE => Some(String::new()),
        [m, k] if m == LOGROTATE => Some(k.clone()),
        [m, ..] if m == LOGROTATE => Some(parts[1..].join(".")),
        _ => None,
    })
}

/// `pm set` with the rotation's values checked first: a value the rotation cannot use is
/// refused and nothing is written.
pub fn set_checked(path: &Path, key: &str, value: &str) -> Result<Settings> {
    let mut s = Settings::load(path)?;
    s.set(key, value)?;
    if logrotate_key(key)?.is_some() {
        s.rotate_policy()?;
        s.worker_interval()?;
    }
    s.save()?;
    Ok(s)
}

/// What `pm2 install pm2-logrotate` leaves in the store: each default not already set.
pub fn install_logrotate(path: &Path) -> Result<Settings> {
    let mut s = Settings::load(path)?;
    let section = s
        .conf
        .entry(LOGROTATE.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(section) = section.as_object_mut() else {
        return Err(SettingsError::NotSection {
            path: path.to_path_buf(),
        });
    };
    for (k, v) in logrotate_defaults() {
        section.entry(k.to_string()).or_insert(v);
    }
    s.save()?;
    Ok(s)
}

/// An app's own rotation settings, read as the `pm2-logrotate:*` keys of the same names are
/// (`conf` holds `max_size`, `retain`, `compress`, `dateFormat`, `rotateInterval`, any of them).
pub fn app_override(conf: &Map<String, Value>) -> Result<crate::logs::RotateOverride> {
    let mut p = RotatePolicy::default();
    apply_logrotate(&mut p, conf)?;
    let given = |k: &str| conf.get(k).is_some_and(|v| !v.is_null());
    Ok(crate::logs::RotateOverride {
        max_size: given("max_size").then_some(p.max_size),
        retain: given("retain").then_some(p.retain),
        compress: given("compress").then_some(p.compress),
        date_format: given("dateFormat").then(|| p.date_format.clone()),
        rotate_interval: given("rotateInterval").then(|| p.rotate_interval.clone()),
    })
}

impl Settings {
    /// How often the daemon's own `pm.log` is sized (pm2-logrotate's `workerInterval`, in
    /// seconds, default 30). App logs need no polling: they are sized on every write.
    pub fn worker_interval(&self) -> Result<std::time::Duration> {
        let conf = match self.conf.get(LOGROTATE) {
            Some(Value::Object(m)) => m,
            _ => return Ok(std::time::Duration::from_secs(30)),
        };
        let Some(v) = setting(conf, "workerInterval")? else {
            return Ok(std::time::Duration::from_secs(30));
        };
        match v.trim().parse::<u64>() {
            Ok(n) if (1..=86_400).contains(&n) => Ok(std::time::Duration::from_secs(n)),
            _ => Err(SettingsError::BadValue {
                key: "workerInterval",
                value: v,
                reason: "expected a number of seconds from 1 to 86400".into(),
            }),
        }
    }
}
