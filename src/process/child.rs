//! A spawned child: its pid, its pipes, and waiting for (and reaping) its exit.
//!
//! Exits are watched through a pidfd rather than tokio's `Child::wait`, because that relies on a
//! SIGCHLD handler, and in library mode libuv replaces SIGCHLD's handler without chaining the
//! first time the host program uses `child_process`: a tokio-based wait would then hang forever.
//! The daemon waits the same way, so there is one wait to reason about. Nobody else reaps these
//! pids (libuv only waits for its own), so `try_wait` after the pidfd fires is exact.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus};
use std::time::Duration;

use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

pub struct Child {
    /// `None` for a child adopted from a daemon that died: its parent is now init (or a
    /// subreaper), so it cannot be waited for, only watched through its pidfd.
    inner: Option<std::process::Child>,
    pid: u32,
    /// Its process group: its own, or, for a followed main process, the group of the one that
    /// named it.
    pgid: u32,
    /// The pidfd until the first wait registers it with the runtime (spawning may happen on a
    /// thread without one); `None` on kernels without pidfd, which are polled instead.
    pidfd: Option<OwnedFd>,
    /// Readable once the child has exited.
    exited: Option<AsyncFd<OwnedFd>>,
}

impl Child {
    pub(super) fn new(inner: std::process::Child) -> Child {
        let pid = inner.id();
        Child {
            inner: Some(inner),
            pid,
            pgid: pid,
            pidfd: open_pidfd(pid),
            exited: None,
        }
    }

    /// A running process this one did not start (a dead daemon's child). Fails when the pid
    /// is gone, or on a kernel without pidfd (its exit could not be seen).
    pub fn adopt(pid: u32) -> io::Result<Child> {
        let pidfd = open_pidfd(pid).ok_or_else(io::Error::last_os_error)?;
        Ok(Child {
            inner: None,
            pid,
            pgid: pid,
            pidfd: Some(pidfd),
            exited: None,
        })
    }

    /// The process a forking app names its main one (systemd's `MAINPID=`), in the app's
    /// process group `pgid`: watched as an adopted one is (it is not this process's child).
    pub fn follow(pid: u32, pgid: u32) -> io::Result<Child> {
        let mut c = Child::adopt(pid)?;
        c.pgid = pgid;
        Ok(c)
    }

    /// Whether this child was adopted rather than spawned here.
    pub fn is_adopted(&self) -> bool {
        self.inner.is_none()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The app's process group: a spawned child leads its own.
    pub fn pgid(&self) -> Pid {
        Pid::from_raw(self.pgid as i32)
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.inner.as_mut()?.stdin.take()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.inner.as_mut()?.stdout.take()
    }

    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.inner.as_mut()?.stderr.take()
    }

    /// Waits for the child to exit and reaps it. Cancel-safe: dropping the future loses
    /// nothing, so it can sit in a `select!`.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(fd) = self.pidfd.take() {
            // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays open and the same.
            self.exited =
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok();
        }
        loop {
            match self.inner.as_mut() {
                Some(inner) => {
                    if let Some(status) = inner.try_wait()? {
                        return Ok(status);
                    }
                }
                None => {
                    if let Some(status) = adopted_exit(self.pid, self.exited.as_ref()) {
                        return status;
                    }
                }
            }
            match self.exited.as_ref() {
                Some(fd) => {
                    let mut ready = fd.readable().await?;
                    ready.clear_ready();
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// An adopted child's end, once its pidfd says it exited (or, without one, once it is gone):
/// its wait status from `/proc/<pid>/stat` while its zombie waits for its new parent to reap
/// it, else an error (the status went with the zombie; the policy then sees an unknown exit).
fn adopted_exit(pid: u32, pidfd: Option<&AsyncFd<OwnedFd>>) -> Option<io::Result<ExitStatus>> {
    use std::os::unix::process::ExitStatusExt;
    let exited = match pidfd {
        Some(fd) => poll_readable(fd.get_ref()),
        None => !crate::sys::proc::is_live(pid),
    };
    if !exited {
        return None;
    }
    Some(match crate::sys::proc::zombie_status(pid) {
        Some(raw) => Ok(ExitStatus::from_raw(raw)),
        None => Err(io::Error::other(
            "the exit status of an adopted process is unknown",
        )),
    })
}

/// Whether a pidfd is readable now (its process has exited).
fn poll_readable(fd: &OwnedFd) -> bool {
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        fd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
}

fn open_pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
