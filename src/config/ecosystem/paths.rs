//! Where an app's files are: `cwd`, `script` and the log and pid files made absolute as pm2's
//! `Common.prepareAppConf` does, against the ecosystem file's directory (see the module doc of
//! `mod.rs` for why not the shell's). `crate::config::paths` holds the generic helpers
//! (`resolve`, the `PM_HOME` layout); this file holds pm2's rules for app paths.

use std::path::{Path, PathBuf};

use crate::config::paths::{resolve, Home};
use crate::protocol::AppSpec;
use crate::sys::names::file_safe;

/// The combined log `log_file: true` asks for: pm2's default folder, named after the app
/// (`prepareAppConf`).
pub(super) fn default_log_file(app_name: &str) -> String {
    let file = format!("{}.log", file_safe(app_name));
    path_string(Home::from_env().logs_dir().join(file))
}

/// `~` and `~/x` as pm2's `resolveHome` expands them (for `cwd` and the log/pid files).
fn expand_home(p: &str) -> String {
    let rest = match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return p.to_string(),
    };
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() => format!("{home}{rest}"),
        _ => p.to_string(),
    }
}

fn path_string(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

/// Makes `cwd`, `script` and the log/pid files absolute, as `Common.prepareAppConf` does (see the
/// module doc for the base directory).
pub(super) fn resolve_paths(spec: &mut AppSpec, base_dir: &Path) {
    spec.cwd = spec
        .cwd
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|cwd| path_string(resolve(base_dir, &expand_home(cwd))));
    let dir = spec
        .cwd
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| base_dir.to_path_buf());
    spec.script = resolve_script(&spec.script, &dir);
    for file in [
        &mut spec.out_file,
        &mut spec.error_file,
        &mut spec.log_file,
        &mut spec.pid_file,
    ] {
        match file.as_deref() {
            // pm2's spellings for "discard"; resolving `NULL` would make it a real file.
            None | Some("NULL") | Some("/dev/null") => {}
            Some("") => *file = None,
            Some(f) => *file = Some(path_string(resolve(&dir, &expand_home(f)))),
        }
    }
}

/// pm2 (`prepareAppConf`): resolve the script against the cwd; if nothing is there, look the name
/// up in `$PATH` (`npm`, `python3`); if that fails too, keep the resolved path so the start fails
/// with "Script not found: <absolute path>". A script with a space is a command line that pm2
/// runs with `bash -c` (`Common.verifyConfs`), so it is left alone.
fn resolve_script(script: &str, dir: &Path) -> String {
    if script.contains(' ') || script == super::SERVE_SCRIPT {
        return script.to_string();
    }
    let expanded = expand_home(script);
    let candidate = resolve(dir, &expanded);
    if candidate.exists() {
        return path_string(candidate);
    }
    if !expanded.contains('/') {
        // Resolved here, in the CLI, because the daemon's `PATH` may not be the user's.
        let path = std::env::var("PATH").ok();
        if let Some(found) = crate::sys::which::which(&expanded, path.as_deref()) {
            return path_string(found);
        }
    }
    path_string(candidate)
}
