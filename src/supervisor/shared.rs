//! Files an app run as another user (`uid`) must read although the home is the daemon user's
//! alone: the preload and the code-metrics file it requires. They are public code, copied into
//! a folder only root can write (`/run/pm-native/<home's hash>`, 0755; the files 0644), so the
//! app can read them and nobody can change them under it.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::spawn::{APP_METRICS, APP_METRICS_FILE, PRELOAD, PRELOAD_FILE};

const BASE: &str = "/run/pm-native";

fn folder(home: &Path) -> PathBuf {
    Path::new(BASE).join(format!(
        "{:016x}",
        fnv1a(home.as_os_str().as_encoded_bytes())
    ))
}

/// The folder for this daemon's home, made and filled once per daemon.
pub fn dir(home: &Path) -> std::io::Result<PathBuf> {
    static MADE: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(d) = made.as_ref() {
        return Ok(d.clone());
    }
    let base = Path::new(BASE);
    let d = folder(home);
    for p in [base, d.as_path()] {
        match std::fs::DirBuilder::new().mode(0o755).create(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        trusted(p)?;
    }
    for (name, text) in [(PRELOAD_FILE, PRELOAD), (APP_METRICS_FILE, APP_METRICS)] {
        crate::config::paths::write_atomic_mode(&d.join(name), text.as_bytes(), 0o644)?;
    }
    *made = Some(d.clone());
    Ok(d)
}

/// Removes this home's folder (at the daemon's exit: its apps are gone, and with them the need).
pub fn remove(home: &Path) {
    let d = folder(home);
    if trusted(&d).is_ok() {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// A folder whose files apps will run must be a real folder that only this (root) process's
/// user can write; one made by someone else first is refused, not used.
fn trusted(p: &Path) -> std::io::Result<()> {
    let m = std::fs::symlink_metadata(p)?;
    let me = nix::unistd::geteuid().as_raw();
    if !m.is_dir() || m.uid() != me || m.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a folder only uid {me} can write; remove it",
            p.display()
        )));
    }
    Ok(())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
