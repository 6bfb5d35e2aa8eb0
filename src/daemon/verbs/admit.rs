//! What an app must be before the daemon creates it, whoever sent it (the CLI, the pm2 API, an
//! ecosystem file, resurrect): checked here once, so a bad value is one line to the caller and
//! never an app that cannot run, cannot log, or cannot be told apart from `all`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::protocol::{AppSpec, Env, Error};

/// Longest name: `<name>-error.log`, `<name>-<id>.pid` and a rotated
/// `<name>-out__2024-01-01_00-00-00.log` must fit in one file name (255 bytes on Linux).
pub const MAX_NAME: usize = 200;

/// Linux's `MAX_ARG_STRLEN`: execve refuses any one `KEY=value` longer than this (E2BIG).
const MAX_ENV_ENTRY: usize = 32 * 4096;

pub fn name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid("the name must not be empty"));
    }
    if name.len() > MAX_NAME {
        return Err(Error::invalid(format!(
            "the name is too long ({} bytes, at most {MAX_NAME})",
            name.len()
        )));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "the name {name:?} has a control character ({:?}); names are shown in tables and log lines",
            c
        )));
    }
    if name == "all" {
        return Err(Error::invalid(
            "the name \"all\" is reserved: `pm stop all` means every app",
        ));
    }
    Ok(())
}

/// Values the supervisor reads later, where a bad one could only be ignored.
fn values(spec: &AppSpec) -> Result<(), Error> {
    if let Some(p) = spec
        .cron_restart
        .as_deref()
        .filter(|p| !matches!(*p, "" | "0"))
    {
        crate::config::validate_cron(p)
            .map_err(|e| Error::invalid(format!("cron_restart: {e}")))?;
    }
    if let Some(s) = spec.kill_signal.as_deref() {
        crate::sys::signal::parse(s).map_err(|e| Error::invalid(format!("kill_signal: {e}")))?;
    }
    Ok(())
}

fn cwd(spec: &AppSpec) -> Result<(), Error> {
    let Some(c) = spec.cwd.as_deref() else {
        return Ok(());
    };
    match std::fs::metadata(c) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::invalid(format!("cwd {c} is not a folder"))),
        Err(e) => Err(Error::invalid(format!("cwd {c}: {e}"))),
    }
}

/// Files the app's output and pid go to, when given: each must be creatable now (its folder
/// made as the launch would), so output is not silently lost from the first line on.
fn files(spec: &AppSpec) -> Result<(), Error> {
    let base = PathBuf::from(spec.cwd.clone().unwrap_or_else(|| "/".into()));
    let given = [
        ("out_file", spec.out_file.as_deref()),
        ("error_file", spec.error_file.as_deref()),
        ("log_file", spec.log_file.as_deref()),
        ("pid_file", spec.pid_file.as_deref()),
    ];
    for (key, value) in given {
        let Some(v) = value else { continue };
        if matches!(v, "NULL" | "/dev/null" | "true" | "false" | "") {
            continue;
        }
        let path = crate::config::paths::resolve(&base, v);
        creatable(&path).map_err(|e| Error::invalid(format!("{key} {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Checks without creating the file: with `-i N` the launch writes `out-<id>.log`, not the
/// name given, and a probe must not leave an empty `out.log` behind.
fn creatable(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(|_| ());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("/"),
    };
    std::fs::create_dir_all(dir)?;
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .map_err(std::io::Error::from)
}

fn env(spec: &AppSpec, caller: &Env) -> Result<(), Error> {
    let app = spec.env.iter();
    for (k, v) in app.chain(caller.iter()) {
        let len = k.len()
            + 2
            + match v {
                Value::String(s) => s.len(),
                other => other.to_string().len(),
            };
        if len > MAX_ENV_ENTRY {
            return Err(Error::invalid(format!(
                "env {k} is {len} bytes; Linux passes at most {MAX_ENV_ENTRY} bytes per variable"
            )));
        }
    }
    Ok(())
}

/// Every check but the name's, for one app of a start or an apply.
pub fn app(spec: &AppSpec, caller: &Env) -> Result<(), Error> {
    cwd(spec)?;
    values(spec)?;
    env(spec, caller)?;
    files(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("web-1").is_ok());
        assert!(name("café ☕").is_ok());
        assert!(name("../x").is_ok());
        assert!(name("4242").is_ok());
        assert!(name(&"a".repeat(MAX_NAME)).is_ok());
        for bad in ["", "  ", "all", "a\nb", "a\tb", "a\0b", "\u{7f}"] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
        let long = name(&"a".repeat(10 * 1024)).expect_err("too long");
        assert!(long.to_string().contains("too long (10240 bytes"), "{long}");
    }
}
