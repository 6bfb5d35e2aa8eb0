//! Log files shared by every writer that names the same path (merged logs, `log_file` combined
//! with `out_file`). Each is opened `O_APPEND`, and each complete line goes out in one `write`,
//! so two instances writing to one file never interleave inside a line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::rotate::{self, Job, RotateError, RotateOverride, RotatePolicy};

pub struct LogFile {
    path: PathBuf,
    state: Mutex<State>,
    shared: Arc<Shared>,
}

/// Everything a write touches, behind one lock: rotating between two writes under it is what
/// keeps every line whole and in exactly one file.
struct State {
    file: Option<File>,
    /// Bytes in the open file: counted on each write, so the size check costs no `stat`.
    /// Seeded from the file's length at open; writes by other processes are not seen.
    written: u64,
    /// The global policy, with `own` applied over it.
    policy: Option<Arc<RotatePolicy>>,
    /// The settings of the app writing here, from its ecosystem entry.
    own: Option<RotateOverride>,
    /// Set while writes fail (a full disk, a removed folder).
    fault: Option<Fault>,
}

/// Why writing to a log file fails and since when; what was dropped meanwhile.
#[derive(Debug, Clone)]
struct Fault {
    reason: String,
    since: chrono::DateTime<chrono::Utc>,
    dropped: u64,
}

/// The policy a file with its own settings `own` follows under the global `policy`.
fn effective(
    policy: &Option<Arc<RotatePolicy>>,
    own: &Option<RotateOverride>,
) -> Option<Arc<RotatePolicy>> {
    match (policy, own) {
        (Some(p), Some(o)) => Some(Arc::new(o.apply(p))),
        (p, _) => p.clone(),
    }
}

/// What the files of one `LogFiles` share: the rotation policy and the worker that compresses
/// and prunes after a rotation.
#[derive(Default)]
pub(crate) struct Shared {
    policy: Mutex<Option<Arc<RotatePolicy>>>,
    pub(crate) worker: rotate::Worker,
    /// Wakes the cron loop when the policy changes.
    pub(crate) changed: tokio::sync::Notify,
}

fn open(path: &Path) -> io::Result<(File, u64)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(super::LOG_MODE)
        .open(path)?;
    let len = f.metadata()?.len();
    Ok((f, len))
}

impl LogFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes whole lines. A failed write (full disk, file removed) drops this chunk but keeps
    /// the app running: blocking the app on a broken log is worse than a gap in it. The next
    /// write tries again (reopening the file), so logging resumes by itself once it can.
    /// Returns whether the file started or stopped failing with this write; each change is
    /// one line in the daemon's log.
    pub fn write(&self, data: &[u8]) -> bool {
        let mut st = self.lock();
        let mut result = Ok(());
        if st.file.is_none() {
            match open(&self.path) {
                Ok((f, len)) => {
                    st.file = Some(f);
                    st.written = len;
                }
                Err(e) => result = Err(e),
            }
        }
        if let Some(f) = st.file.as_mut() {
            result = f.write_all(data);
        }
        if let Err(e) = result {
            st.file = None;
            return self.failed(&mut st, e, data.len() as u64);
        }
        let recovered = st.fault.take().inspect(|f| {
            elog!(
                "[PM] log {}: writing again; {} bytes were dropped since {} ({})",
                self.path.display(),
                f.dropped,
                f.since.format("%Y-%m-%dT%H:%M:%SZ"),
                f.reason
            );
        });
        st.written += data.len() as u64;
        let policy = match &st.policy {
            Some(p) if st.written >= p.max_size => p.clone(),
            _ => return recovered.is_some(),
        };
        let rotated = self.rotate_locked(&mut st, &policy);
        drop(st);
        self.after_rotation(rotated);
        recovered.is_some()
    }

    fn failed(&self, st: &mut State, e: io::Error, len: u64) -> bool {
        if let Some(f) = st.fault.as_mut() {
            f.dropped += len;
            return false;
        }
        elog!(
            "[PM] log {}: cannot write ({e}); the app's output is dropped until it can be written",
            self.path.display()
        );
        st.fault = Some(Fault {
            reason: e.to_string(),
            since: chrono::Utc::now(),
            dropped: len,
        });
        true
    }

    /// While writes fail: the path, why, and since when, in one line.
    pub fn fault(&self) -> Option<String> {
        let st = self.lock();
        st.fault.as_ref().map(|f| {
            format!(
                "{}: {} (since {})",
                self.path.display(),
                f.reason,
                f.since.format("%Y-%m-%dT%H:%M:%SZ")
            )
        })
    }

    /// Rotates now, whatever the size, if the file holds anything and a policy is set (the
    /// cron rotation). Returns the rotated file's name.
    pub fn rotate(&self) -> Result<Option<PathBuf>, RotateError> {
        let mut st = self.lock();
        let Some(policy) = st.policy.clone() else {
            return Ok(None);
        };
        // pm2-logrotate leaves empty files alone. One fstat: this is not the write path.
        let len = match st.file.as_ref().map(|f| f.metadata()) {
            Some(Ok(m)) => m.len(),
            _ => std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        };
        if len == 0 {
            return Ok(None);
        }
        let job = self.rotate_locked(&mut st, &policy)?;
        drop(st);
        let name = job.as_ref().map(|j| j.rotated.clone());
        self.after_rotation(Ok(job));
        Ok(name)
    }

    /// Renames the file away and opens a new one at the path. Called with the write lock held,
    /// so it falls between two whole writes.
    fn rotate_locked(
        &self,
        st: &mut State,
        policy: &Arc<RotatePolicy>,
    ) -> Result<Option<Job>, RotateError> {
        let to = rotate::rotated_path(&self.path, policy, chrono::Utc::now());
        // Whatever happens, count anew: a rename that keeps failing (a read-only directory) is
        // then retried after another `max_size`, not on every write.
        st.written = 0;
        let to = to?;
        let moved = match std::fs::rename(&self.path, &to) {
            Ok(()) => true,
            // Moved away by someone else (system logrotate): only the reopen is left to do.
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(RotateError::Rename {
                    path: self.path.clone(),
                    to,
                    source,
                })
            }
        };
        // If the new file cannot be opened now, the next write tries again.
        st.file = None;
        if let Ok((f, len)) = open(&self.path) {
            st.file = Some(f);
            st.written = len;
        }
        Ok(moved.then(|| Job {
            log: self.path.clone(),
            rotated: to,
            policy: policy.clone(),
        }))
    }

    fn after_rotation(&self, rotated: Result<Option<Job>, RotateError>) {
        match rotated {
            Ok(Some(job)) => self.shared.worker.submit(job),
            Ok(None) => {}
            // `write` cannot return it, and the daemon's stderr is its log.
            Err(e) => elog!("[PM] log rotation: {e}"),
        }
    }

    /// Reopens the path (after an external rotation moved the file away).
    pub fn reopen(&self) -> io::Result<()> {
        let (f, len) = open(&self.path)?;
        let mut st = self.lock();
        st.file = Some(f);
        st.written = len;
        Ok(())
    }

    /// An app's own rotation settings for this file (the last app to attach wins when several
    /// share it); an empty override means the global policy.
    pub fn set_override(&self, own: RotateOverride, global: &Option<Arc<RotatePolicy>>) {
        let mut st = self.lock();
        st.own = (!own.is_empty()).then_some(own);
        st.policy = effective(global, &st.own);
    }

    fn interval(&self) -> Option<String> {
        self.lock()
            .policy
            .as_ref()
            .map(|p| p.rotate_interval.clone())
    }

    /// Empties the file in place; writers keep appending to the same inode.
    pub fn truncate(&self) -> io::Result<()> {
        let mut st = self.lock();
        match st.file.as_ref() {
            Some(f) => f.set_len(0)?,
            None => {
                OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&self.path)?;
            }
        }
        st.written = 0;
        Ok(())
    }
}

/// All open log files of the daemon, by path.
#[derive(Default, Clone)]
pub struct LogFiles {
    inner: Arc<Mutex<HashMap<PathBuf, Arc<LogFile>>>>,
    pub(crate) shared: Arc<Shared>,
}

impl LogFiles {
    pub fn get(&self, path: &Path) -> io::Result<Arc<LogFile>> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = map.get(path) {
            return Ok(f.clone());
        }
        let (file, written) = open(path)?;
        let f = Arc::new(LogFile {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file: Some(file),
                written,
                policy: self.policy(),
                own: None,
                fault: None,
            }),
            shared: self.shared.clone(),
        });
        map.insert(path.to_path_buf(), f.clone());
        Ok(f)
    }

    /// The file at `path`, following `own` over the global policy.
    pub fn get_for(&self, path: &Path, own: RotateOverride) -> io::Result<Arc<LogFile>> {
        let f = self.get(path)?;
        f.set_override(own, &self.policy());
        Ok(f)
    }

    fn files(&self) -> Vec<Arc<LogFile>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Drops files nobody writes to any more, so deleted apps do not keep descriptors open.
    pub fn release_unused(&self) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, f| Arc::strong_count(f) > 1);
    }

    /// Closes and reopens every file at its path: for `pm reloadLogs` and SIGUSR2 after a
    /// system logrotate moved the files away. One that fails does not stop the others; the
    /// first failure is returned, naming its path.
    pub fn reopen_all(&self) -> io::Result<()> {
        let mut first = None;
        for f in self.files() {
            if let Err(e) = f.reopen() {
                let e = io::Error::new(e.kind(), format!("{}: {e}", f.path().display()));
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The rotation policy, applied to every file now open and to those opened later;
    /// `None` stops rotation.
    pub fn set_policy(&self, policy: Option<RotatePolicy>) {
        let policy = policy.map(Arc::new);
        *self.shared.policy.lock().unwrap_or_else(|p| p.into_inner()) = policy.clone();
        for f in self.files() {
            let mut st = f.lock();
            st.policy = effective(&policy, &st.own);
        }
        self.shared.changed.notify_waiters();
    }

    pub fn policy(&self) -> Option<Arc<RotatePolicy>> {
        self.shared
            .policy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rotates every non-empty file now (the cron rotation). Returns the rotated names; a
    /// failure on one file does not stop the others.
    pub fn rotate_all(&self) -> (Vec<PathBuf>, Vec<RotateError>) {
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        for f in self.files() {
            match f.rotate() {
                Ok(Some(p)) => done.push(p),
                Ok(None) => {}
                Err(e) => failed.push(e),
            }
        }
        (done, failed)
    }

    /// The distinct cron patterns in force: the global one and the apps' own.
    pub fn intervals(&self) -> Vec<String> {
        let mut all: std::collections::BTreeSet<String> =
            self.files().iter().filter_map(|f| f.interval()).collect();
        all.extend(self.policy().map(|p| p.rotate_interval.clone()));
        all.into_iter().collect()
    }

    /// Rotates every non-empty file whose pattern is among `due` (a cron firing).
    pub fn rotate_due(&self, due: &[String]) -> (Vec<PathBuf>, Vec<RotateError>) {
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        for f in self.files() {
            if !f.interval().is_some_and(|i| due.contains(&i)) {
                continue;
            }
            match f.rotate() {
                Ok(Some(p)) => done.push(p),
                Ok(None) => {}
                Err(e) => failed.push(e),
            }
        }
        (done, failed)
    }

    /// Waits for compression and pruning after rotations to finish (before the daemon exits,
    /// and in tests); false if `timeout` passed first.
    pub fn wait_rotations(&self, timeout: std::time::Duration) -> bool {
        self.shared.worker.wait(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// System logrotate's way: `mv` the files, then signal the daemon, which calls reopen_all.
    #[test]
    fn reopen_all_after_an_external_move() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = LogFiles::default();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("sub/b.log"));
        let (fa, fb) = (files.get(&a).expect("open"), files.get(&b).expect("open"));
        fa.write(b"a1\n");
        fb.write(b"b1\n");
        let moved = dir.path().join("a.log.1");
        std::fs::rename(&a, &moved).expect("mv");
        fa.write(b"a2\n");
        assert_eq!(
            std::fs::read(&moved).expect("read"),
            b"a1\na2\n",
            "old fd until reopen"
        );
        std::fs::remove_dir_all(dir.path().join("sub")).expect("rm");
        files.reopen_all().expect("reopen");
        fa.write(b"a3\n");
        fb.write(b"b2\n");
        assert_eq!(std::fs::read(&moved).expect("read"), b"a1\na2\n");
        assert_eq!(std::fs::read(&a).expect("read"), b"a3\n");
        assert_eq!(
            std::fs::read(&b).expect("read"),
            b"b2\n",
            "its folder recreated"
        );
    }

    #[test]
    fn reopen_all_names_what_failed_and_reopens_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = LogFiles::default();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b/b.log"));
        let (fa, _fb) = (files.get(&a).expect("open"), files.get(&b).expect("open"));
        std::fs::rename(&a, dir.path().join("a.old")).expect("mv");
        // A file where b's folder was: b cannot be reopened.
        std::fs::remove_dir_all(dir.path().join("b")).expect("rm");
        std::fs::write(dir.path().join("b"), "").expect("write");
        let err = files.reopen_all().expect_err("b cannot reopen");
        assert!(err.to_string().contains("b.log"), "{err}");
        fa.write(b"x\n");
        assert_eq!(std::fs::read(&a).expect("read"), b"x\n");
    }
}
