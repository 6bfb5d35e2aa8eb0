//! Stopping a child for good, pm2's way: a signal to the whole process group, SIGKILL after the
//! grace period (`kill_timeout`), and the group waited out, grandchildren included.
//!
//! This is the one place that does it. A caller with a politer first step (the daemon's cluster
//! `disconnect` or `shutdown` message) takes it first, then hands over with no signal to send.
//! With pm2's `treekill: false` only the main process is signalled and killed; what it started
//! in its group is left running, as pm2 leaves it.

use std::io;
use std::process::ExitStatus;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::Child;

/// pm2's `kill_signal` default.
pub const DEFAULT_SIGNAL: Signal = Signal::SIGINT;
/// pm2's `kill_timeout` default (`constants.js`), in milliseconds.
pub const DEFAULT_KILL_TIMEOUT: u64 = 1600;

/// What a stop signals: the child's whole process group (pm2's default, `treekill: true`) or
/// the main process alone (`treekill: false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Group,
    Main,
}

impl Scope {
    /// The scope pm2's `treekill` option asks for (unset means true).
    pub fn from_treekill(treekill: Option<bool>) -> Self {
        match treekill {
            Some(false) => Scope::Main,
            _ => Scope::Group,
        }
    }
}

/// Sends `signal` (unless the caller has already asked the child to stop some other way) to the
/// child's group, SIGKILLs the group if the child is still there at `deadline`, then gives
/// what is left of the group until `deadline` before it is killed too. Returns the child's exit
/// once the group is gone.
pub async fn stop(
    child: &mut Child,
    signal: Option<Signal>,
    deadline: Instant,
) -> io::Result<ExitStatus> {
    stop_scoped(child, signal, deadline, Scope::Group).await
}

/// [`stop`], signalling only what `scope` names: with [`Scope::Main`] the main process gets the
/// signal and, at `deadline`, SIGKILL; the rest of its group is not waited for.
pub async fn stop_scoped(
    child: &mut Child,
    signal: Option<Signal>,
    deadline: Instant,
    scope: Scope,
) -> io::Result<ExitStatus> {
    let pgid = child.pgid();
    let main = Pid::from_raw(child.pid() as i32);
    let send = |sig: Signal| {
        let _ = match scope {
            Scope::Group => killpg(pgid, sig),
            Scope::Main => kill(main, sig),
        };
    };
    if let Some(sig) = signal {
        send(sig);
    }
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(st) => st,
        Err(_) => {
            send(Signal::SIGKILL);
            child.wait().await
        }
    };
    if scope == Scope::Group {
        // The leader is gone; anything left in its group (a grandchild ignoring the signal)
        // gets the rest of the grace period, then SIGKILL.
        crate::sys::signal::end_group(pgid, deadline).await;
    }
    status
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    use super::*;
    use crate::process::Command;

    #[tokio::test]
    async fn a_child_ignoring_the_signal_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join("trapped");
        // The shell marks once it ignores SIGINT; its `sleep`s are in its group.
        let mut spawned = Command::new("sh")
            .args([
                "-c",
                "trap '' INT; echo > \"$0\"; while true; do sleep 30; done",
            ])
            .arg(&marker)
            .spawn()
            .expect("spawn sh");
        let trap_set = Instant::now() + Duration::from_secs(10);
        while !marker.exists() {
            assert!(Instant::now() < trap_set, "the shell never set its trap");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let began = Instant::now();
        let status = stop(
            &mut spawned.child,
            Some(Signal::SIGINT),
            began + Duration::from_millis(300),
        )
        .await
        .expect("wait");
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        assert!(began.elapsed() >= Duration::from_millis(300));
        // Members already killed may linger as zombies until init reaps them; none may run.
        let pgid = spawned.child.pgid().as_raw();
        let gone = Instant::now() + Duration::from_secs(2);
        while !live_members(pgid).is_empty() {
            assert!(
                Instant::now() < gone,
                "left running: {:?}",
                live_members(pgid)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Pids of the group's members that are not zombies, from `/proc/<pid>/stat`.
    fn live_members(pgid: i32) -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // After the command's `)`: state, ppid, pgrp.
                let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn without_treekill_only_the_main_process_is_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pidfile = dir.path().join("grandchild");
        // The shell starts a sleep in its group, writes its pid, then waits.
        let mut spawned = Command::new("sh")
            .args([
                "-c",
                "sleep 30 & echo $! > \"$0.tmp\"; mv \"$0.tmp\" \"$0\"; wait",
            ])
            .arg(&pidfile)
            .spawn()
            .expect("spawn sh");
        let written = Instant::now() + Duration::from_secs(10);
        let grandchild = loop {
            if let Ok(text) = std::fs::read_to_string(&pidfile) {
                break text.trim().parse::<i32>().expect("pid");
            }
            assert!(
                Instant::now() < written,
                "the shell never wrote its child's pid"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = stop_scoped(
            &mut spawned.child,
            Some(Signal::SIGTERM),
            deadline,
            Scope::Main,
        )
        .await
        .expect("wait");
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
        let alive = kill(Pid::from_raw(grandchild), None).is_ok();
        let _ = kill(Pid::from_raw(grandchild), Signal::SIGKILL);
        assert!(alive, "the grandchild was stopped too");
    }

    #[tokio::test]
    async fn a_child_that_obeys_exits_by_the_signal() {
        let mut spawned = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = stop(&mut spawned.child, Some(Signal::SIGTERM), deadline)
            .await
            .expect("wait");
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(Instant::now() < deadline);
    }
}
