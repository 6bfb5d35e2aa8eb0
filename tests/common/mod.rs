//! A real daemon in a temporary PM_HOME, driven through the real `pm` binary. Dropping the
//! fixture kills the daemon by the pid in its pid file, so a failing test leaves nothing behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Pm {
    pub dir: tempfile::TempDir,
}

impl Pm {
    pub fn new() -> Pm {
        Pm {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A file path inside the test's own directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write fixture");
        p
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pm"))
            .args(args)
            .env("PM_HOME", self.home())
            .env_remove("PM2_HOME")
            .current_dir(self.dir.path())
            .output()
            .expect("run pm")
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pm {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn jlist(&self) -> Vec<Value> {
        let text = self.ok(&["jlist"]);
        match serde_json::from_str(&text) {
            Ok(Value::Array(a)) => a,
            other => panic!("jlist is not an array: {other:?}"),
        }
    }

    pub fn proc(&self, name: &str) -> Value {
        self.jlist()
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.home().join("pm.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Pm {
    fn drop(&mut self) {
        let _ = self.run(&["kill"]);
        if let Some(pid) = self.daemon_pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Polls `f` until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A JS statement that creates `p`: an app's way of saying it got this far (its signal handler
/// is installed, say), for [`wait_for_file`] to see.
pub fn mark_js(p: &Path) -> String {
    format!(
        "require('fs').writeFileSync({:?}, '')",
        p.display().to_string()
    )
}

/// Waits until `p` exists (an app marked that it got this far), at most `timeout`.
pub fn wait_for_file(what: &str, timeout: Duration, p: &Path) {
    wait_for(what, timeout, || p.exists().then_some(()));
}
