//! Starting one Node child for `fork()`: Node's IPC channel on fd 3 (DESIGN.md §4), its own
//! process group (so stop reaches grandchildren), and a pidfd to learn about its exit.
//!
//! Exits are watched through a pidfd rather than tokio's `Child::wait`, because that relies on a
//! SIGCHLD handler, and libuv replaces SIGCHLD's handler without chaining the first time the host
//! program uses `child_process`: a tokio-based wait would then hang forever. Nobody else reaps
//! these pids (libuv only waits for its own), so `try_wait` after the pidfd fires is exact.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

/// What to run: the same for every restart.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// The Node binary (`process.execPath` by default).
    pub exec_path: String,
    /// Everything after it: `execArgv`, the module path, then the module's arguments.
    pub args: Vec<String>,
    pub cwd: Option<String>,
    /// The complete environment (the JS side starts from `process.env`, as Node's fork does).
    pub env: Vec<(String, String)>,
    /// `silent: true`: stdout and stderr come back as pipes instead of sharing the parent's.
    pub silent: bool,
}

/// A running child and the parent's end of its channel.
pub struct Launched {
    pub child: Child,
    pub pid: u32,
    /// The parent's end of the channel, until the supervisor takes it.
    pub channel: Option<super::outbox::Channel>,
    /// Readable once the child has exited; `None` on kernels without pidfd (then we poll).
    pidfd: Option<AsyncFd<OwnedFd>>,
}

/// `close_range` flag: mark the range close-on-exec instead of closing it, so std's own
/// exec-error pipe survives until exec and a bad `execPath` still fails the spawn with ENOENT.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Spawns the child. Must run inside the tokio runtime (the pidfd is registered with it).
pub fn launch(cfg: &LaunchConfig) -> io::Result<Launched> {
    let (parent, child_end) = crate::ipc::pair()?;
    let child_fd = child_end.as_raw_fd();
    let mut cmd = Command::new(&cfg.exec_path);
    cmd.args(&cfg.args)
        .env_clear()
        .envs(cfg.env.iter().map(|(k, v)| (k, v)))
        .env("NODE_CHANNEL_FD", "3")
        .env("NODE_CHANNEL_SERIALIZATION_MODE", "json")
        .process_group(0);
    if cfg.silent {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    if let Some(cwd) = cfg.cwd.as_deref() {
        cmd.current_dir(cwd);
    }
    // SAFETY: only async-signal-safe calls (dup2, fcntl, close_range) run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if child_fd == 3 {
                // dup2 onto itself keeps CLOEXEC, so clear it by hand.
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(child_fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            // The pair is non-blocking for our side; Node wants a blocking fd it configures.
            let fl = libc::fcntl(3, libc::F_GETFL);
            if fl >= 0 {
                libc::fcntl(3, libc::F_SETFL, fl & !libc::O_NONBLOCK);
            }
            // Descriptors Node opened without CLOEXEC must not leak into the worker. Failure
            // (an old kernel) is harmless: libuv opens nearly everything close-on-exec.
            libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // Our copy of the child's end must close, or neither side ever sees EOF.
    drop(child_end);
    let pid = child.id();
    Ok(Launched {
        pidfd: open_pidfd(pid),
        child,
        pid,
        channel: Some(std::sync::Arc::new(parent)),
    })
}

fn open_pidfd(pid: u32) -> Option<AsyncFd<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays open and the same.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
}

impl Launched {
    /// Waits for the child to exit and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            match self.pidfd.as_ref() {
                Some(fd) => {
                    let mut ready = fd.readable().await?;
                    ready.clear_ready();
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// `(code, signal name)` as Node reports them in `'exit'`.
pub fn exit_value(status: &ExitStatus) -> (Option<i32>, Option<String>) {
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal().map(|s| {
        nix::sys::signal::Signal::try_from(s)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| s.to_string())
    });
    (status.code(), signal)
}
