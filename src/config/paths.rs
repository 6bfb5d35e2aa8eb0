//! Every path pm-native uses is derived from one home directory, as pm2's `paths.js` does.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// `PM_HOME`, else `PM2_HOME` (so existing pm2 scripts keep working), else `~/.pm`.
    pub fn from_env() -> Self {
        let pick = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = pick("PM_HOME")
            .or_else(|| pick("PM2_HOME"))
            .unwrap_or_else(|| {
                let home = pick("HOME").unwrap_or_else(|| PathBuf::from("/tmp"));
                home.join(".pm")
            });
        Home {
            root: absolute(&root),
        }
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Home { root: root.into() }
    }

    pub fn rpc_socket(&self) -> PathBuf {
        self.root.join("rpc.sock")
    }
    /// `PM_PID_FILE_PATH` / `PM2_PID_FILE_PATH` move it, as in pm2.
    pub fn pid_file(&self) -> PathBuf {
        match super::knob("PID_FILE_PATH") {
            Some(p) => PathBuf::from(p),
            None => self.root.join("pm.pid"),
        }
    }
    /// pm2's name for the daemon's pid file, kept in the home beside [`Home::pid_file`] so
    /// scripts reading `$PM2_HOME/pm2.pid` find the daemon.
    pub fn pm2_pid_file(&self) -> PathBuf {
        self.root.join("pm2.pid")
    }
    /// The static file server `pm serve` apps run, which the daemon writes at start.
    pub fn serve_file(&self) -> PathBuf {
        self.root.join("serve.js")
    }
    pub fn daemon_log(&self) -> PathBuf {
        self.root.join("pm.log")
    }
    /// Held (flock) by whoever is starting the daemon, so concurrent CLIs start exactly one.
    pub fn start_lock(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn pids_dir(&self) -> PathBuf {
        self.root.join("pids")
    }
    /// What the daemon runs, for a successor to adopt (see `daemon::live`).
    pub fn live_state(&self) -> PathBuf {
        self.root.join("live.json")
    }
    pub fn dump_file(&self) -> PathBuf {
        self.root.join("dump.pm2")
    }
    /// The daemon-brokered queues (see `queue::journal`).
    pub fn queue_journal(&self) -> PathBuf {
        self.root.join("queues.journal")
    }

    /// Creates the home (mode 0700: it holds the control socket) and its sub-folders.
    pub fn ensure(&self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(&self.root)?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        b.create(self.logs_dir())?;
        b.create(self.pids_dir())?;
        Ok(())
    }
}

/// Makes a path absolute against the current directory without touching the file system.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Resolves `p` against `base` and folds `.` and `..`, as Node's `path.resolve` does.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let joined = base.join(p);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Writes a file atomically, only its owner can read it: a temp file beside it (created 0600),
/// fsync, then rename over the target.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_file(path, data, true, 0o600)
}

/// [`write_atomic`] for a file others may read (`mode` less the umask): code the apps load,
/// files for the init system.
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write_file(path, data, true, mode)
}

/// Replaces a file (0600) so readers never see it half-written, without forcing it to disk: for
/// short-lived state such as pid files, rewritten on every restart, where an fsync would stall
/// the daemon during a crash loop and a crash loses nothing that matters.
pub fn write_replace(path: &Path, data: &[u8], sync: bool) -> std::io::Result<()> {
    write_file(path, data, sync, 0o600)
}

/// The temp file is created with its final mode, under a name unique to the call
/// (`create_new`: never a file someone else created, whose mode they chose).
fn write_file(path: &Path, data: &[u8], sync: bool, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes a file only its owner can read, so that a reader sees the old or the new whole file
/// and a crash at any moment leaves one of them on disk: a temp file created 0600 beside it (not
/// chmodded later, so the data is never readable by others, even briefly), fsync, rename over
/// the target, then fsync of the folder so the rename itself survives a power cut. The temp name
/// is unique per call, so two writers in one process never share a temp file.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_private_with(path, data, true)
}

/// [`write_private`], with the fsyncs only when `sync` is set: for state that matters only while
/// this boot's processes run (the daemon's live state), which a power cut makes moot anyway.
pub fn write_private_with(path: &Path, data: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = private_temp(
        path,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
    );
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    match path.parent().filter(|d| sync && !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// `.dump.pm2.<pid>.<n>.tmp`: hidden, and recognisable by [`sweep_private_temps`].
fn private_temp(path: &Path, pid: u32, seq: u64) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{pid}.{seq}.tmp"))
}

/// Removes the temp files [`write_private`] leaves when its process is killed mid-write, once
/// they are a minute old (a live writer finishes long before that).
pub fn sweep_private_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if !(n.starts_with(&prefix) && n.ends_with(".tmp")) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
