//! The daemon's own log, `pm.log`: not a `LogFile` but the daemon's stdout and stderr, which the
//! client opened on it when it spawned the daemon. Rotating it means renaming the file and
//! putting a freshly opened one onto descriptors 1 and 2, as pm2-logrotate does for `pm2.log`.

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::rotate::{self, Job, RotatePolicy};
use super::LogFiles;

/// `pm.log` as the daemon's stdio, if that is what stderr is. Under systemd, or a daemon run
/// in a terminal, stderr is something else and is left alone.
pub struct DaemonLog {
    path: PathBuf,
}

impl DaemonLog {
    /// `Some` when descriptor 2 is the file at `path` (same device and inode).
    pub fn detect(path: &Path) -> Option<Self> {
        let on_path = std::fs::metadata(path).ok()?;
        let fd2 = fstat(2)?;
        (on_path.dev() == fd2.dev() && on_path.ino() == fd2.ino()).then(|| DaemonLog {
            path: path.to_path_buf(),
        })
    }

    /// Rotates when the file behind stderr holds `max_size` bytes or more; returns the rotated
    /// name. Sized by descriptor, not path: after an external `mv` the path is another file.
    pub fn rotate_if_full(
        &self,
        files: &LogFiles,
        policy: &std::sync::Arc<RotatePolicy>,
    ) -> Result<Option<PathBuf>, rotate::RotateError> {
        match fstat(2) {
            Some(st) if st.len() >= policy.max_size => {}
            _ => return Ok(None),
        }
        let to = rotate::rotated_path(&self.path, policy, chrono::Utc::now())?;
        // Every `elog!` holds this lock for its whole line, so the switch falls between lines.
        let guard = std::io::stderr().lock();
        let moved = match std::fs::rename(&self.path, &to) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(rotate::RotateError::Rename {
                    path: self.path.clone(),
                    to,
                    source,
                })
            }
        };
        let reopened = self.reopen_locked();
        drop(guard);
        if let Err(e) = reopened {
            elog!("[PM] cannot reopen {}: {e}", self.path.display());
        }
        if !moved {
            return Ok(None);
        }
        files.shared.worker.submit(Job {
            log: self.path.clone(),
            rotated: to.clone(),
            policy: policy.clone(),
        });
        Ok(Some(to))
    }

    /// Opens the path anew onto stdout and stderr (`pm reloadLogs`, SIGUSR2).
    pub fn reopen(&self) -> std::io::Result<()> {
        let _guard = std::io::stderr().lock();
        self.reopen_locked()
    }

    fn reopen_locked(&self) -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(super::LOG_MODE)
            .open(&self.path)?;
        for fd in [1, 2] {
            // SAFETY: dup2 onto the standard descriptors, which this process owns; the old file
            // is closed atomically by it.
            if unsafe { libc::dup2(f.as_raw_fd(), fd) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// The metadata of the file open on `fd`, without taking ownership of the descriptor.
fn fstat(fd: i32) -> Option<std::fs::Metadata> {
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptor stays open (ManuallyDrop never closes it); only fstat runs on it.
    let f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    f.metadata().ok()
}
