//! Built-in log rotation, in place of the pm2-logrotate module and without its losses: a log is
//! rotated by renaming it (a new inode, so `tail -F`, Filebeat and Vector follow) and reopening
//! its path, under the lock every write takes, so no line is lost, split or written twice.
//!
//! What the daemon calls (`daemon::rotation`, and the supervisor for an app's files):
//! - at start, and after every `pm set pm2-logrotate:*`: `LogFiles::set_policy(Some(policy))`,
//!   with the policy from `config::settings::Settings::rotate_policy()` (`None` turns it off);
//! - for an app with its own settings: `LogFiles::get_for(path, override)`;
//! - once, at start: `tokio::spawn(logs::rotate::run_cron(files.clone(), shutdown))`, which follows
//!   policy changes by itself and returns when `shutdown` completes;
//! - for `pm reloadLogs` and on SIGUSR2: `LogFiles::reopen_all()`;
//! - before exiting: `LogFiles::wait_rotations(timeout)`, so a gzip in progress completes.
//!
//! pm2-logrotate also rotates `pm2.log`; `pm.log` is the daemon's stderr and is not a
//! `LogFile`: see [`super::stderr`].

use std::fmt::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// pm2-logrotate's settings, parsed (see `config::settings` for how they are read).
#[derive(Debug, Clone, PartialEq)]
pub struct RotatePolicy {
    /// A file is rotated once it holds this many bytes (pm2-logrotate: `size >= max_size`).
    pub max_size: u64,
    /// How many rotated files to keep per log; `None` keeps all.
    pub retain: Option<usize>,
    /// Gzip rotated files (`<name>__<date>.log.gz`).
    pub compress: bool,
    /// A moment.js format for the date in rotated names.
    pub date_format: String,
    /// A cron pattern (5 fields, or 6 with seconds first) that rotates every non-empty log,
    /// in local time as node-schedule does.
    pub rotate_interval: String,
    /// The zone of the date in rotated names (pm2-logrotate's `TZ`); local time when `None`.
    pub tz: Option<crate::sys::zone::Zone>,
}

impl Default for RotatePolicy {
    /// pm2-logrotate 3.0.0's defaults (its package.json `config` and app.js fallbacks).
    fn default() -> Self {
        RotatePolicy {
            max_size: 10 * 1024 * 1024,
            retain: Some(30),
            compress: false,
            date_format: "YYYY-MM-DD_HH-mm-ss".into(),
            rotate_interval: "0 0 * * *".into(),
            tz: None,
        }
    }
}

/// An app's own rotation settings (ecosystem `max_size`, `retain`, `compress`, `dateFormat`,
/// `rotateInterval`): each one given replaces the global one for that app's files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RotateOverride {
    pub max_size: Option<u64>,
    /// `Some(None)`: keep every rotated file.
    pub retain: Option<Option<usize>>,
    pub compress: Option<bool>,
    pub date_format: Option<String>,
    pub rotate_interval: Option<String>,
}

impl RotateOverride {
    pub fn is_empty(&self) -> bool {
        *self == RotateOverride::default()
    }

    /// `base` with this override's settings in place of its own.
    pub fn apply(&self, base: &RotatePolicy) -> RotatePolicy {
        RotatePolicy {
            max_size: self.max_size.unwrap_or(base.max_size),
            retain: self.retain.unwrap_or(base.retain),
            compress: self.compress.unwrap_or(base.compress),
            date_format: self
                .date_format
                .clone()
                .unwrap_or_else(|| base.date_format.clone()),
            rotate_interval: self
                .rotate_interval
                .clone()
                .unwrap_or_else(|| base.rotate_interval.clone()),
            tz: base.tz.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("cannot rotate {path}: date format \"{format}\" is not usable")]
    DateFormat { path: PathBuf, format: String },
    #[error("cannot rotate {path} to {to}: {source}")]
    Rename {
        path: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot compress {path}: {source}")]
    Compress {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove old rotated logs of {path}: {source}")]
    Prune {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The name rotated files of `path` start with. pm2-logrotate cuts the last four characters
/// (`.log`) whatever they are; a path not ending in `.log` keeps its whole name here, so
/// `app.txt` rotates to `app.txt__<date>.log` and retention still finds its files.
pub fn rotated_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".log").unwrap_or(&name);
    format!("{stem}__")
}

/// The date part of a rotated name, in the policy's zone.
pub fn format_date(policy: &RotatePolicy, now: DateTime<Utc>) -> Option<String> {
    let fmt = super::pump::moment_to_chrono(&policy.date_format);
    let mut out = String::new();
    // `write!` rather than `to_string()`: chrono panics in `Display` on a bad specifier.
    let ok = match &policy.tz {
        Some(tz) => write!(out, "{}", tz.localize(now).format(&fmt)),
        None => write!(out, "{}", now.with_timezone(&chrono::Local).format(&fmt)),
    };
    (ok.is_ok() && !out.contains('/') && !out.is_empty()).then_some(out)
}

/// `<dir>/<prefix><date>.log`, or `<prefix><date>_<n>.log` when that name (or its `.gz`) is
/// taken: pm2-logrotate writes over a file rotated earlier in the same second.
pub fn rotated_path(
    path: &Path,
    policy: &RotatePolicy,
    now: DateTime<Utc>,
) -> Result<PathBuf, RotateError> {
    let date = format_date(policy, now).ok_or_else(|| RotateError::DateFormat {
        path: path.to_path_buf(),
        format: policy.date_format.clone(),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = rotated_prefix(path);
    let taken = |p: &Path| p.exists() || gz_path(p).exists();
    let first = dir.join(format!("{prefix}{date}.log"));
    if !taken(&first) {
        return Ok(first);
    }
    let mut n = 1u32;
    loop {
        let p = dir.join(format!("{prefix}{date}_{n}.log"));
        if !taken(&p) {
            return Ok(p);
        }
        n += 1;
    }
}

pub(crate) fn gz_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".gz");
    PathBuf::from(s)
}

/// The rotated files of `log`, newest first. Newest is by modification time (the last line
/// written), then by name, so that date formats that do not sort as text still keep the right
/// files; pm2-logrotate sorts by name only and matches the prefix anywhere in the name, which
/// also deletes the files of `web-api-out.log` when pruning `api-out.log`'s.
pub fn rotated_files(log: &Path) -> std::io::Result<Vec<PathBuf>> {
    let dir = log.parent().unwrap_or(Path::new("."));
    let prefix = rotated_prefix(log);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !(name.ends_with(".log") || name.ends_with(".log.gz")) {
            continue;
        }
        // A file that vanished meanwhile (a concurrent prune) is simply not counted.
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let mtime = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        // Ties (the clock behind mtimes ticks in milliseconds) go by name, shorter first, so
        // `a__d.log` < `a__d_9.log` < `a__d_10.log`, with or without `.gz`.
        let bare = name.strip_suffix(".gz").unwrap_or(&name).to_owned();
        found.push(((mtime, bare.len(), bare), entry.path()));
    }
    found.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Deletes all but the newest `retain` rotated files of `log`; returns what it deleted.
pub fn prune(log: &Path, retain: usize) -> Result<Vec<PathBuf>, RotateError> {
    let err = |source| RotateError::Prune {
        path: log.to_path_buf(),
        source,
    };
    let mut removed = Vec::new();
    for old in rotated_files(log).map_err(err)?.into_iter().skip(retain) {
        match std::fs::remove_file(&old) {
            Ok(()) => removed.push(old),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(removed)
}

/// What is left to do after a rename, away from the writers: compression, then retention.
pub(crate) struct Job {
    pub log: PathBuf,
    pub rotated: PathBuf,
    pub policy: std::sync::Arc<RotatePolicy>,
}

/// Gzips a rotated file to `<file>.gz`: into a temp name first, synced, then renamed, and
/// only then is the original removed, so a crash at any point leaves one whole copy.
pub fn gzip(src: &Path) -> Result<PathBuf, RotateError> {
    use std::io::Write;
    let dst = gz_path(src);
    let mut tmp = dst.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let run = || -> std::io::Result<()> {
        let mut input = std::fs::File::open(src)?;
        let mtime = input.metadata()?.modified()?;
        let out = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(super::LOG_MODE)
                .open(&tmp)?,
        );
        // The default level, not pm2-logrotate's 9: on text it is a few percent larger and
        // several times faster, and this shares the daemon's cores with the apps.
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        std::io::copy(&mut input, &mut enc)?;
        let mut out = enc.finish()?;
        out.flush()?;
        let out = out.into_inner().map_err(|e| e.into_error())?;
        // Retention orders by mtime: keep the time of the last line, not of the compression.
        out.set_modified(mtime)?;
        out.sync_all()?;
        std::fs::rename(&tmp, &dst)?;
        std::fs::remove_file(src)
    };
    run().map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        RotateError::Compress {
            path: src.to_path_buf(),
            source,
        }
    })?;
    Ok(dst)
}

pub(crate) fn finish(job: &Job) -> Vec<RotateError> {
    let mut errors = Vec::new();
    if job.policy.compress {
        if let Err(e) = gzip(&job.rotated) {
            errors.push(e);
        }
    }
    if let Some(retain) = job.policy.retain {
        if let Err(e) = prune(&job.log, retain) {
            errors.push(e);
        }
    }
    errors
}

/// Runs rotation's slow part (gzip, retention) on one thread of its own, in order, so a
/// writer never waits for it and two prunes of one log never race.
#[derive(Default)]
pub(crate) struct Worker {
    tx: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    pending: std::sync::Arc<Pending>,
}

#[derive(Default)]
struct Pending {
    count: std::sync::Mutex<usize>,
    idle: std::sync::Condvar,
}

impl Worker {
    pub fn submit(&self, job: Job) {
        let mut tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        *self.pending.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let job = match tx.as_ref() {
            None => job,
            Some(t) => match t.send(job) {
                Ok(()) => return,
                // The thread is gone (it panicked): start another.
                Err(std::sync::mpsc::SendError(job)) => job,
            },
        };
        let (t, rx) = std::sync::mpsc::channel::<Job>();
        let pending = self.pending.clone();
        let spawned = std::thread::Builder::new()
            .name("pm-logrotate".into())
            .spawn(move || {
                for job in rx {
                    for e in finish(&job) {
                        elog!("[PM] log rotation: {e}");
                    }
                    let mut n = pending.count.lock().unwrap_or_else(|p| p.into_inner());
                    *n -= 1;
                    pending.idle.notify_all();
                }
            });
        match spawned {
            Ok(_) => {
                if let Err(std::sync::mpsc::SendError(job)) = t.send(job) {
                    self.run_here(job);
                }
                *tx = Some(t);
            }
            // No thread to be had: do the work here rather than lose it.
            Err(_) => self.run_here(job),
        }
    }

    fn run_here(&self, job: Job) {
        for e in finish(&job) {
            elog!("[PM] log rotation: {e}");
        }
        let mut n = self.pending.count.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        self.pending.idle.notify_all();
    }

    /// Waits until every submitted job is done; false if `timeout` passed first.
    pub fn wait(&self, timeout: std::time::Duration) -> bool {
        let n = self.pending.count.lock().unwrap_or_else(|p| p.into_inner());
        let (n, _) = self
            .pending
            .idle
            .wait_timeout_while(n, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *n == 0
    }
}

/// Rotates every non-empty log each time its policy's `rotate_interval` fires (the global one,
/// or the app's own), until `shutdown` completes. A policy change (or none) takes effect at
/// once, not after the next firing of the old pattern.
pub async fn run_cron(files: super::LogFiles, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let changed = files.shared.changed.notified();
        tokio::pin!(changed);
        // Registered before the policy is read, so a change in between is not missed.
        changed.as_mut().enable();
        let mut next: Vec<(crate::sys::cron::Due, String)> = files
            .intervals()
            .into_iter()
            .filter_map(|p| crate::sys::cron::next_cron(&p).map(|at| (at, p)))
            .collect();
        next.sort();
        // Patterns that fire together (two apps with `0 0 * * *` read a few microseconds apart)
        // are one firing; one left for the next turn would be a day late.
        let due: Vec<String> = match next.first() {
            Some(&(first, _)) => next
                .iter()
                .take_while(|(at, _)| at.wall_ms() <= first.wall_ms() + 500)
                .map(|(_, p)| p.clone())
                .collect(),
            None => Vec::new(),
        };
        let fire = async {
            match next.first() {
                Some((at, _)) => tokio::time::sleep_until(at.wake).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = &mut changed => continue,
            _ = fire => {}
        }
        // A look at the wall clock, not the firing (see `Due`): work the patterns out again.
        if next.first().is_some_and(|(at, _)| at.again().is_some()) {
            continue;
        }
        let all = files.clone();
        // Renames and opens are blocking file-system calls, under the files' locks.
        match tokio::task::spawn_blocking(move || all.rotate_due(&due)).await {
            Ok((_, errors)) => {
                for e in errors {
                    elog!("[PM] log rotation: {e}");
                }
            }
            Err(e) => elog!("[PM] log rotation: cron rotation failed: {e}"),
        }
    }
}

#[cfg(test)]
#[path = "rotate_tests.rs"]
mod tests;
