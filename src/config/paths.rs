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
    pub fn dump_file(&self) -> PathBuf {
        self.root.join("dump.pm2")
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

/// Writes a file atomically: a temp file beside it, fsync, then rename over the target.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_replace(path, data, true)
}

/// Replaces a file so readers never see it half-written, without forcing it to disk: for
/// short-lived state such as pid files, rewritten on every restart, where an fsync would stall
/// the daemon during a crash loop and a crash loses nothing that matters.
pub fn write_replace(path: &Path, data: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    if sync {
        f.sync_all()?;
    }
    drop(f);
    std::fs::rename(&tmp, path)
}
