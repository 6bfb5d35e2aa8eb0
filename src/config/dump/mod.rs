//! `dump.pm2`, the list `pm save` writes: one record per app, its spec and the environment it
//! was started with. `pm resurrect` and `pm daemon --resurrect` read it the same way, and also
//! read the dump pm2 itself writes (one `pm2_env` per instance, see [`pm2`]), so moving from
//! pm2 is one `pm resurrect`.
//!
//! Writing follows pm2's `dump`: the previous dump is kept as `dump.pm2.bak`, and an empty list
//! does not replace a saved one unless forced. Unlike pm2, both files are written atomically
//! (see [`crate::config::paths::write_private`]), so a crash never leaves a half-written dump.

pub mod pm2;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::paths::write_private;
use crate::protocol::{AppSpec, Env};

/// One saved app.
#[derive(Debug, Clone)]
pub struct Saved {
    pub spec: AppSpec,
    pub env: Env,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot read {path} (run pm save first): {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Truncated, empty or not JSON at all: pm2 removes such a file, and so do we.
    #[error("{path} is not a valid dump ({reason})")]
    Parse { path: String, reason: String },
    #[error("{path}: bad app record: {reason}")]
    Record { path: String, reason: String },
}

impl DumpError {
    /// No dump at all: for the daemon this means nothing to restore, not a failure.
    pub fn is_missing(&self) -> bool {
        matches!(self, DumpError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The file pm2 keeps the previous dump in: `dump.pm2.bak` beside `dump.pm2`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// Reads every record, or fails before anything is started: half a restore is harder to
/// reason about than none.
pub fn read(path: &Path) -> Result<Vec<Saved>, DumpError> {
    let shown = || path.display().to_string();
    let text = std::fs::read(path).map_err(|source| DumpError::Read {
        path: shown(),
        source,
    })?;
    let records = parse(&text).map_err(|reason| DumpError::Parse {
        path: shown(),
        reason,
    })?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    decode(records, dir, &shown()).map_err(|reason| DumpError::Record {
        path: shown(),
        reason,
    })
}

/// The records of a dump's text, or why it is not one, in a few words.
fn parse(text: &[u8]) -> Result<Vec<Map<String, Value>>, String> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err("the file is empty".into());
    }
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        if e.is_eof() {
            format!("truncated: {e}")
        } else {
            format!("not JSON: {e}")
        }
    })?;
    let Value::Array(items) = value else {
        return Err("expected a JSON array of apps".into());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok(m),
            _ => Err(format!("entry #{} is not an object", i + 1)),
        })
        .collect()
}

/// pm-native's records (`{"spec", "env"}`) as they are; pm2's (`pm2_env` objects) through
/// [`pm2::import`], in the order of the file.
fn decode(
    records: Vec<Map<String, Value>>,
    dir: &Path,
    origin: &str,
) -> Result<Vec<Saved>, String> {
    let (native, theirs): (Vec<_>, Vec<_>) =
        records.into_iter().partition(|r| r.contains_key("spec"));
    let mut out = Vec::with_capacity(native.len() + theirs.len());
    for (i, mut r) in native.into_iter().enumerate() {
        let spec = serde_json::from_value(r.remove("spec").unwrap_or_default())
            .map_err(|e| format!("#{}: {e}", i + 1))?;
        let env = match r.remove("env") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        out.push(Saved { spec, env });
    }
    out.extend(pm2::import(theirs, dir, origin)?);
    Ok(out)
}

/// What [`load`] restored from.
#[derive(Debug)]
pub struct Loaded {
    /// The file the apps came from: the dump, or its `.bak`.
    pub from: PathBuf,
    pub apps: Vec<Saved>,
    /// Why the dump itself was not used, when the `.bak` was.
    pub skipped: Option<DumpError>,
}

/// pm2's `resurrect` order: the dump, else its `.bak`. With `remove_broken`, a file that is not
/// a dump at all (truncated, empty, garbage) is removed, as pm2 does, so the next save starts
/// clean. On failure, every reason, one line each; a lone missing dump means nothing was saved.
pub fn load(path: &Path, remove_broken: bool) -> Result<Loaded, Vec<DumpError>> {
    let drop_broken = |p: &Path, e: &DumpError| {
        if remove_broken && matches!(e, DumpError::Parse { .. }) {
            let _ = std::fs::remove_file(p);
        }
    };
    let first = match read(path) {
        Ok(apps) => {
            return Ok(Loaded {
                from: path.to_path_buf(),
                apps,
                skipped: None,
            })
        }
        Err(e) => e,
    };
    drop_broken(path, &first);
    let bak = backup_path(path);
    match read(&bak) {
        Ok(apps) => Ok(Loaded {
            from: bak,
            apps,
            skipped: Some(first),
        }),
        Err(e) if e.is_missing() => Err(vec![first]),
        Err(e) => {
            drop_broken(&bak, &e);
            Err(vec![first, e])
        }
    }
}

/// The record `pm save` writes for one app.
pub fn record(spec: &AppSpec, env: &Env) -> Value {
    serde_json::json!({ "spec": spec, "env": env })
}

/// Whether a save wrote the dump.
#[derive(Debug, PartialEq, Eq)]
pub enum Saving {
    Written,
    /// An empty list and no `force`: the dump on disk is left as it is (pm2 issue #2653).
    RefusedEmpty,
}

/// Writes the dump as pm2's `dump` does: the current dump becomes `dump.pm2.bak`, then the new
/// list replaces it; both atomically, mode 0600. A dump that is not valid is not copied over
/// a good `.bak`. Saves are serialised so the backup is always the dump just before.
pub fn save(path: &Path, records: &[Value], force: bool) -> std::io::Result<Saving> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    if records.is_empty() && !force {
        return Ok(Saving::RefusedEmpty);
    }
    let text = serde_json::to_vec_pretty(records).map_err(std::io::Error::other)?;
    match std::fs::read(path) {
        Ok(old) if parse(&old).is_ok() => {
            if let Err(e) = write_private(&backup_path(path), &old) {
                // As pm2: a failed backup is reported, and the save goes on.
                elog!("cannot back up {}: {e}", path.display());
            }
        }
        _ => {}
    }
    write_private(path, &text)?;
    Ok(Saving::Written)
}

/// `pm cleardump`: an empty list, as pm2 writes it (the `.bak` is left alone, as there).
pub fn clear(path: &Path) -> std::io::Result<()> {
    write_private(path, b"[]")
}

#[cfg(test)]
mod tests;
