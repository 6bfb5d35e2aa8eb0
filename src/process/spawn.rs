//! Starting a child: its own process group (so a stop reaches grandchildren), only the
//! descriptors it is meant to have, and optionally Node's IPC channel on fd 3 (DESIGN.md §4).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;

use super::Child;

/// `close_range` flag: mark the range close-on-exec instead of closing it. Closing would take
/// std's exec-error pipe with it, and a program that cannot be executed would then abort the
/// forked child ("fatal runtime error") instead of failing the spawn with ENOENT.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// What to run. The environment starts empty: the caller gives the whole of it, so nothing
/// leaks from this process by accident.
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    stdio: Option<[Stdio; 3]>,
    channel: bool,
    identity: Option<crate::sys::user::Identity>,
}

/// A started child, and the parent's end of its channel when it has one.
pub struct Spawned {
    pub child: Child,
    /// Non-blocking and close-on-exec; the child's end is closed here, so EOF works.
    pub channel: Option<OwnedFd>,
}

impl Command {
    pub fn new(program: impl Into<OsString>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdio: None,
            channel: false,
            identity: None,
        }
    }

    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Command {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(&mut self, args: I) -> &mut Command {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Command {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn cwd(&mut self, dir: impl Into<PathBuf>) -> &mut Command {
        self.cwd = Some(dir.into());
        self
    }

    /// stdin, stdout and stderr; without this call the child shares this process's.
    pub fn stdio(&mut self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> &mut Command {
        self.stdio = Some([stdin, stdout, stderr]);
        self
    }

    /// Gives the child Node's IPC channel: a socketpair end on fd 3, announced by
    /// `NODE_CHANNEL_FD=3` in JSON serialisation.
    pub fn channel(&mut self) -> &mut Command {
        self.channel = true;
        self
    }

    /// Runs the child as this user and group, with these supplementary groups.
    pub fn identity(&mut self, id: crate::sys::user::Identity) -> &mut Command {
        self.identity = Some(id);
        self
    }

    /// Forks and execs. Blocks until the child has exec'd (or failed to), so a caller with
    /// many children to start may want to do this off its event loop.
    pub fn spawn(&mut self) -> io::Result<Spawned> {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .process_group(0);
        if let Some([stdin, stdout, stderr]) = self.stdio.take() {
            cmd.stdin(stdin).stdout(stdout).stderr(stderr);
        }
        if let Some(cwd) = self.cwd.as_deref() {
            cmd.current_dir(cwd);
        }
        let pair = if self.channel {
            cmd.env("NODE_CHANNEL_FD", "3")
                .env("NODE_CHANNEL_SERIALIZATION_MODE", "json");
            Some(crate::ipc::pair()?)
        } else {
            None
        };
        let child_fd = pair.as_ref().map(|(_, child)| child.as_raw_fd());
        let identity = self.identity.take();
        if child_fd.is_none()
            && identity.is_none()
            && INHERITED_MARKED.load(std::sync::atomic::Ordering::Relaxed)
        {
            // Nothing to do between fork and exec: std spawns with posix_spawn (a vfork),
            // which does not copy this process's page tables. With a thousand children that
            // copy, once per spawn, was most of the time a start of all of them took.
            let child = cmd.spawn()?;
            return Ok(Spawned {
                child: Child::new(child),
                channel: None,
            });
        }
        // SAFETY: only async-signal-safe calls (dup2, fcntl, close_range, and setgroups,
        // setgid, setuid with a group list built before the fork) run between fork and exec,
        // and they touch no memory of this process.
        unsafe {
            cmd.pre_exec(move || {
                let keep: libc::c_uint = match child_fd {
                    Some(fd) => {
                        onto_fd3(fd)?;
                        4
                    }
                    None => 3,
                };
                // Descriptors opened without CLOEXEC (by us, or by Node in library mode) must
                // not leak into the child. Failure (an old kernel) is harmless: nearly
                // everything here is opened close-on-exec.
                libc::syscall(libc::SYS_close_range, keep, u32::MAX, CLOSE_RANGE_CLOEXEC);
                // Last: std's chdir and setpgid ran before, with the daemon's rights.
                match &identity {
                    Some(id) => crate::sys::user::become_(id),
                    None => Ok(()),
                }
            });
        }
        let child = cmd.spawn()?;
        let channel = pair.map(|(parent, child_end)| {
            // Our copy of the child's end must close, or neither side ever sees EOF.
            drop(child_end);
            parent
        });
        Ok(Spawned {
            child: Child::new(child),
            channel,
        })
    }
}

/// Puts the child's channel end on fd 3, inheritable and blocking. Runs between fork and exec.
/// Set once [`mark_inherited_cloexec`] ran: every descriptor of this process is close-on-exec.
static INHERITED_MARKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks every descriptor above 2 close-on-exec, for a process (the daemon) whose own code opens
/// everything close-on-exec: then only descriptors it inherited could leak into children, and
/// after this none can, so children without a channel need no `pre_exec` (and get a vfork
/// instead of a fork). Not for library mode: Node opens descriptors without the flag.
pub fn mark_inherited_cloexec() {
    // SAFETY: close_range only sets flags on this process's descriptors.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        INHERITED_MARKED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn onto_fd3(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: fcntl and dup2 on descriptors of the forked child; async-signal-safe.
    unsafe {
        if fd == 3 {
            // dup2 onto itself keeps CLOEXEC, so clear it by hand.
            let flags = libc::fcntl(3, libc::F_GETFD);
            if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
        } else if libc::dup2(fd, 3) < 0 {
            return Err(io::Error::last_os_error());
        }
        // The pair is non-blocking for our side; Node wants a blocking fd it configures itself.
        let fl = libc::fcntl(3, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(3, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use super::*;

    #[tokio::test]
    async fn the_channel_is_fd_3_and_only_the_given_env_is_set() {
        let script =
            "echo \"$NODE_CHANNEL_FD $NODE_CHANNEL_SERIALIZATION_MODE $A ${HOME:-none}\" >&3; \
                      read line <&3; echo \"got $line\" >&3";
        let mut spawned = Command::new("/bin/sh")
            .args(["-c", script])
            .env("A", "1")
            .channel()
            .spawn()
            .expect("spawn sh");
        let fd = spawned.channel.take().expect("a channel");
        let mut chan = UnixStream::from(fd);
        chan.set_nonblocking(false).expect("blocking");
        chan.write_all(b"hi\n").expect("write");
        let mut got = String::new();
        chan.read_to_string(&mut got).expect("read to EOF");
        assert_eq!(got, "3 json 1 none\ngot hi\n");
        assert!(spawned.child.wait().await.expect("wait").success());
    }

    #[tokio::test]
    async fn once_marked_an_inherited_descriptor_stays_out_of_a_spawned_child() {
        // dup() gives a descriptor without close-on-exec, like one the daemon inherited.
        // SAFETY: dup of stdin's descriptor; the copy is closed below.
        let leaky = unsafe { libc::dup(0) };
        assert!(leaky > 2, "dup failed");
        mark_inherited_cloexec();
        let mut spawned = Command::new("/bin/sh")
            .args([
                "-c",
                &format!("test -e /proc/self/fd/{leaky} && exit 1; exit 0"),
            ])
            .spawn()
            .expect("spawn sh");
        let ok = spawned.child.wait().await.expect("wait").success();
        // SAFETY: our own descriptor from dup above.
        unsafe { libc::close(leaky) };
        assert!(ok, "fd {leaky} leaked into the child");
    }
}
